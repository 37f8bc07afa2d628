export { decide, exempt, parseFlag, unready, type FaultDecision, type FaultFlag, type FaultKind } from './flags.ts'
export { FaultInjected, FaultStoreUnavailable, faultFlags, type FaultFlagsOptions } from './plugin.ts'
