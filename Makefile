# Thin aliases; dev.py does the work so that machines without make work too.
.PHONY: demo test
demo:
	python3 dev.py demo
test:
	python3 dev.py test
