"""Great Expectations suites (files in suites/) and the code that runs them on polars frames."""
