export { FAULT_KINDS, decide, exempt, parseFlag, unready, type FaultDecision, type FaultFlag, type FaultKind } from './flags.ts'
export { FAULT_ERROR_CODES, FaultInjected, FaultStoreUnavailable, faultFlags, type FaultFlagsOptions } from './plugin.ts'
