/** Renders a verify report for a person: one line per check, then what is wrong, then how to dig in. */
import type { VerifyReport } from './checks.ts'

export function formatReport(report: VerifyReport, { color = false } = {}): string {
  const paint = (code: string, s: string): string => (color ? `\u001b[${code}m${s}\u001b[0m` : s)
  const lines: string[] = []
  for (const c of report.checks) {
    lines.push(`${c.ok ? paint('32', 'PASS') : paint('1;31', 'FAIL')}  ${c.name.padEnd(16)} ${c.summary}`)
    for (const v of c.violations) lines.push(`        ${paint('31', v.subject)}: ${v.detail}`)
  }
  const failed = report.checks.filter((c) => !c.ok).map((c) => c.name)
  lines.push(
    '',
    report.ok
      ? paint('1;32', `verify: all ${report.checks.length} invariants hold (nothing oversold, nothing lost, nothing duplicated)`)
      : paint('1;31', `verify: ${failed.length} invariant(s) violated: ${failed.join(', ')}. See docs/runbooks/verify-failed.md`),
  )
  return lines.join('\n')
}
