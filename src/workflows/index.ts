/** Workflow entry points registered with the worker (bundled by the Temporal SDK from this file). */
export { partitionWorkflow } from './partition-workflow';
export { supervisorWorkflow } from './supervisor-workflow';
export { pruneRetentionWorkflow } from './prune-workflow';
