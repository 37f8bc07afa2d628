export { verify, type CheckName, type CheckResult, type SaleStats, type VerifyOptions, type VerifyReport, type Violation } from './checks.ts'
export { formatReport } from './report.ts'
