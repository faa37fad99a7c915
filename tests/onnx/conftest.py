"""Prints how many ONNX backend node cases theon passed, at the end of the run."""


def pytest_terminal_summary(terminalreporter):
    counts = {"passed": 0, "xfailed": 0, "failed": 0}
    for key in counts:
        for report in terminalreporter.stats.get(key, []):
            if "OnnxBackendNodeModelTest" in report.nodeid and report.when == "call":
                counts[key] += 1
    total = sum(counts.values())
    if total:
        terminalreporter.write_line(
            f"ONNX backend node tests: theon passed {counts['passed']} of {total} "
            f"({counts['xfailed']} expected failures, {counts['failed']} unexpected failures)")
