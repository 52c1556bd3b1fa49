"""``cognix doctor [--fix]``: Cog's project checks (``pkg/doctor``), their findings and safe fixes.

:func:`run` loads the project once (:class:`~cognix.project.doctor.context.Context`), runs every
check in Cog's order, and with ``fix`` makes each finding's rewrite in a workspace, writes what
changed, and checks again. The :class:`Report` is what the CLI prints: each check with its
findings (file:line, message, remediation), what ``--fix`` changed as a diff, a summary line.
As in Cog, the command fails (exit 1) when an error is left, or a fix it was asked for could not
be made; warnings alone do not fail it. Nothing here imports or runs the user's code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cognix.errors import CognixError
from cognix.project.doctor import config_checks, python_checks
from cognix.project.doctor.context import Context
from cognix.project.doctor.findings import Finding, Rewrite, Severity, Unsafe, Workspace

Segment = str | tuple[str, str]  # text, or (text, rich style)
MARKS = {Severity.ERROR: ("✗ ", "red"), Severity.WARNING: ("! ", "yellow")}
PASSED = ("✓ ", "green")
SKIPPED = ("- ", "dim")


@dataclass(frozen=True)
class Check:
    group: str
    title: str
    run: Callable[[Context], list[Finding]]
    detail: Callable[[Context], str | None] | None = None  # what the check saw, shown beside its title
    needs_config: bool = True  # reads the validated cog.yaml: not run when it has errors


CHECKS = (  # Cog's order (pkg/doctor/registry.go)
    Check("Config", "Config parsing", config_checks.parsing, needs_config=False),
    Check("Config", "Config schema", config_checks.schema, needs_config=False),
    Check("Config", "Deprecated fields", config_checks.deprecated_fields),
    Check("Config", "Predict reference", config_checks.predictor_reference),
    Check("Python", "Pydantic BaseModel workaround", python_checks.pydantic_basemodel),
    Check("Python", "Deprecated imports", python_checks.deprecated_imports),
    Check("Python", "Concurrency", python_checks.concurrency, python_checks.concurrency_title),
)


@dataclass(frozen=True)
class CheckResult:
    check: Check
    title: str
    findings: tuple[Finding, ...]
    skipped: bool = False


def diagnose(ctx: Context) -> list[CheckResult]:
    results = []
    for check in CHECKS:
        if check.needs_config and ctx.project is None:
            results.append(CheckResult(check, f"{check.title} (not checked: {ctx.config_name} has errors)", (), True))
            continue
        detail = check.detail(ctx) if check.detail else None
        title = f"{check.title} ({detail})" if detail else check.title
        findings = sorted(check.run(ctx), key=lambda f: (f.file, f.line or 0))
        results.append(CheckResult(check, title, tuple(findings)))
    return results


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class Report:
    fix: bool
    results: list[CheckResult]  # before any fix
    after: list[CheckResult]  # after the fixes (the same as results without --fix)
    left: dict[Rewrite, str] = field(default_factory=dict)  # the rewrites that could not be made, and why
    diff: list[str] = field(default_factory=list)
    fixed: set[Finding] = field(default_factory=set)  # made, and gone when checked again

    @property
    def new(self) -> list[Finding]:
        """What checking again after the fixes found that the first pass did not."""
        known = {(f.file, f.message) for r in self.results for f in r.findings}
        return [f for r in self.after for f in r.findings if (f.file, f.message) not in known]

    def _severity(self, finding: Finding) -> Severity:
        """A fix ``--fix`` was asked for and could not make is an error (Cog counts a failed fix)."""
        return Severity.ERROR if finding.rewrite in self.left else finding.severity

    def _count(self, severity: Severity) -> int:
        remaining = [f for r in self.results for f in r.findings if f not in self.fixed] + self.new
        return sum(self._severity(f) is severity for f in remaining)

    @property
    def errors(self) -> int:
        return self._count(Severity.ERROR)

    def lines(self, program: str = "cognix") -> Iterator[tuple[Segment, ...]]:
        """The report, line by line, as segments for ``rich.text.Text.assemble``."""
        yield (f"Running {program} doctor{' --fix' if self.fix else ''}...",)
        group = None
        for result in self.results:
            if result.check.group != group:
                group = result.check.group
                yield ("",)
                yield ((group, "bold"),)
            yield from self._result_lines(result)
        if self.diff:
            yield ("",)
            yield (("Changed:", "bold"),)
            styles = {"+": "green", "-": "red", "@": "cyan"}
            yield from (((f"  {line}", styles.get(line[:1], "")),) for line in self.diff)
        if new := self.new:
            yield ("",)
            yield (("After the fixes:", "bold"),)
            for finding in new:
                yield from self._finding_lines(finding)
        yield ("",)
        yield self._summary(program)

    def _result_lines(self, result: CheckResult) -> Iterator[tuple[Segment, ...]]:
        open_ = [f for f in result.findings if f not in self.fixed]
        if result.skipped:
            yield ("  ", SKIPPED, result.title)
        elif not result.findings:
            yield ("  ", PASSED, result.title)
        elif not open_:
            yield ("  ", PASSED, f"Fixed: {result.title}")
        else:
            worst = min(self._severity(f) for f in open_)
            yield ("  ", MARKS[worst], result.title)
        for finding in result.findings:
            yield from self._finding_lines(finding)

    def _finding_lines(self, finding: Finding) -> Iterator[tuple[Segment, ...]]:
        yield (f"    {finding.location}: {finding.message}",)
        if finding in self.fixed:
            yield (("      fixed", "green"),)
            return
        if finding.rewrite is not None and finding.rewrite in self.left:
            yield (("      not fixed: ", "red"), self.left[finding.rewrite])
        yield (f"      remediation: {finding.remediation}",)

    def _summary(self, program: str) -> tuple[Segment, ...]:
        warnings = self._count(Severity.WARNING)
        if self.fixed:
            parts = [f"Fixed {_plural(len(self.fixed), 'issue')}"]
            parts += [f"{_plural(warnings, 'warning')} remaining"] if warnings else []
            parts += [f"{_plural(self.errors, 'unfixed error')}"] if self.errors else []
            return (". ".join(parts) + ".",)
        if self.errors or warnings:
            found = ", ".join(
                [_plural(self.errors, "error")] * bool(self.errors) + [_plural(warnings, "warning")] * bool(warnings)
            )
            fixable = sum(f.rewrite is not None for r in self.results for f in r.findings)
            hint = f' Run "{program} doctor --fix" to fix {fixable} of them.' if fixable and not self.fix else ""
            return (f"Found {found}.{hint}",)
        return (PASSED, "no issues found")


def run(config_path: Path, *, fix: bool = False) -> Report:
    """Check the project of ``config_path``; with ``fix``, make the safe rewrites and check again."""
    ctx = Context.load(config_path)
    results = diagnose(ctx)
    if not fix:
        return Report(fix, results, results)
    report = Report(fix, results, results)
    workspace = Workspace(ctx.dir)
    findings = [f for r in results for f in r.findings]
    for rewrite in dict.fromkeys(f.rewrite for f in findings if f.rewrite is not None):
        before = workspace.snapshot()
        try:
            rewrite(workspace)
        except (Unsafe, OSError, UnicodeDecodeError, SyntaxError) as error:
            workspace.restore(before)
            report.left[rewrite] = str(error)
    report.diff = list(workspace.diff())
    try:
        workspace.save()
    except OSError as error:
        raise CognixError(f"cannot write the fixes: {error}", hint="check the project folder's permissions") from None
    report.after = diagnose(Context.load(config_path))
    remaining = {(f.file, f.message) for r in report.after for f in r.findings}
    made = [f for f in findings if f.rewrite is not None and f.rewrite not in report.left]
    report.fixed = {f for f in made if (f.file, f.message) not in remaining}
    return report


__all__ = ["CHECKS", "Report", "run"]
