// The scenarios run the runtime bundle exactly as the local runtime tests do.
export { ensureRuntimeBundle } from '../../../support/runtime-bundle';
