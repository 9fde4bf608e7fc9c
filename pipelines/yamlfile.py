"""Load YAML keeping line numbers, so validation errors can point at the line."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crm_migrate.errors import ConfigError

_ENV = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


class YamlDocument:
    """A parsed YAML file: its data plus the node tree that knows the lines."""

    def __init__(self, path: Path, substitute_env: bool = False) -> None:
        self.path = path
        self.secrets: list[str] = []
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError("file not found", file=str(path), hint="check the path; relative paths are resolved against the config file's folder") from None
        except PermissionError:
            raise ConfigError("permission denied", file=str(path), hint="give the user running crm-migrate read access") from None
        except IsADirectoryError:
            raise ConfigError("is a folder, not a file", file=str(path), hint="name the YAML file") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"not UTF-8 text ({exc.reason})", file=str(path), hint="save the file as UTF-8") from None
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"invalid YAML{line}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
        self.data = self._substitute(data, ()) if substitute_env else data

    def _substitute(self, value: Any, loc: tuple) -> Any:
        if isinstance(value, dict):
            return {k: self._substitute(v, loc + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, loc + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            def repl(m: re.Match) -> str:
                name, default = m["name"], m["default"]
                if name in os.environ:
                    self.secrets.append(os.environ[name])
                    return os.environ[name]
                if default is not None:
                    return default
                raise ConfigError(
                    f"{self.where(loc)}: environment variable {name} is not set",
                    file=None,
                    hint=f"export {name}=... before running, or write ${{{name}:-default}}",
                )
            return _ENV.sub(repl, value)
        return value

    def line_of(self, loc: tuple) -> int | None:
        node = self.node
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, val in node.value:
                    if key.value == part:
                        node = val
                        break
                else:
                    break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
            else:
                break
        return node.start_mark.line + 1 if node is not None else None

    def where(self, loc: tuple) -> str:
        line = self.line_of(loc)
        path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[")
        return f"{self.path}:{line}: {path}" if line else f"{self.path}: {path}"

    def validate(self, model: type, **context: Any):
        """Build `model` from the data; a failure names file, line, key path, value and what is allowed."""
        try:
            return model.model_validate(self.data if self.data is not None else {}, context=context)
        except ValidationError as exc:
            lines = []
            for err in exc.errors():
                loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
                value = err.get("input")
                shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
                lines.append(f"{self.where(loc)}: {err['msg']}{shown}")
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines), hint="see docs/configuration.md") from None
