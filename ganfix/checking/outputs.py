"""Renderings of a `ganfix check` report: rich table, JUnit XML, GitHub job summary and ::error:: lines."""
from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.table import Table

from ..atomic import atomic_write_text


def _fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def gate_table(report: dict) -> Table:
    gen = report["generator"]
    s = report["settings"]
    table = Table(title=f"ganfix check: {gen['name']} (fingerprint {gen['fingerprint']}; "
                        f"{s['features']} features, N={s['samples']}, seed {s['seed']})")
    table.add_column("gate")
    table.add_column("result", justify="center")
    table.add_column("detail", overflow="fold")
    for g in report["gates"]:
        table.add_row(g["name"], "[green]PASS[/]" if g["passed"] else "[bold red]FAIL[/]", g["summary"])
    return table


def junit_xml(report: dict, elapsed_s: float = 0.0) -> str:
    """One <testcase> per gate; the numbers behind each verdict are <property> elements; a failed
    gate carries a <failure>. Layout follows the JUnit XML that CI test reporters read."""
    gates = report["gates"]
    failures = sum(not g["passed"] for g in gates)
    suites = ET.Element("testsuites", name="ganfix check", tests=str(len(gates)), failures=str(failures),
                        errors="0", time=f"{elapsed_s:.3f}")
    suite = ET.SubElement(suites, "testsuite", name="ganfix check", tests=str(len(gates)), failures=str(failures),
                          errors="0", skipped="0", time=f"{elapsed_s:.3f}")
    props = ET.SubElement(suite, "properties")
    for key, value in [("generator", report["generator"]["name"]), ("fingerprint", report["generator"]["fingerprint"]),
                       *report["settings"].items(), *(report.get("metrics") or {}).items()]:
        ET.SubElement(props, "property", name=str(key), value=_fmt(value))
    for g in gates:
        case = ET.SubElement(suite, "testcase", classname="ganfix.check", name=g["name"], time="0")
        cprops = ET.SubElement(case, "properties")
        for key, value in g["metrics"].items():
            ET.SubElement(cprops, "property", name=str(key), value=_fmt(value))
        if not g["passed"]:
            fail = ET.SubElement(case, "failure", message=g["summary"], type="GateFailed")
            fail.text = g["summary"]
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(path: str | os.PathLike, report: dict, elapsed_s: float = 0.0) -> Path:
    return atomic_write_text(path, junit_xml(report, elapsed_s))


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def step_summary_markdown(report: dict) -> str:
    gen, s = report["generator"], report["settings"]
    verdict = "✅ all gates passed" if report["passed"] else "❌ quality gate failed"
    lines = [f"## ganfix check: {verdict}", "",
             f"`{_md_cell(gen['name'])}` (fingerprint `{gen['fingerprint']}`), {s['features']} features, "
             f"N={s['samples']}, seed {s['seed']}, real data `{_md_cell(s['real'])}`", "",
             "| gate | result | detail |", "|---|---|---|"]
    for g in report["gates"]:
        lines.append(f"| {g['name']} | {'✅ pass' if g['passed'] else '❌ FAIL'} | {_md_cell(g['summary'])} |")
    m = report.get("metrics")
    if m:
        lines += ["", "| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in m.items()]
    return "\n".join(lines) + "\n\n"


def append_step_summary(path: str | os.PathLike, markdown: str) -> None:
    # The runner owns this file and other steps' text is already in it: append in one write
    # (O_APPEND) rather than replace it, so nothing that is there is lost.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, markdown.encode("utf-8"))
    finally:
        os.close(fd)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_error_lines(report: dict) -> list[str]:
    """`::error title=…::message` workflow commands, one per failed gate (shown as annotations)."""
    file = report.get("config")
    out = []
    for g in report["gates"]:
        if g["passed"]:
            continue
        params = [f"title={_escape_property('ganfix check: ' + g['name'])}"]
        if file:
            params.insert(0, f"file={_escape_property(os.path.relpath(file) if os.path.isabs(file) else file)}")
        out.append(f"::error {','.join(params)}::{_escape_data(g['summary'])}")
    return out
