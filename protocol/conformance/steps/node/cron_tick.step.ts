// The cron convention: handler(ctx), no input.
export const config = { type: 'cron', name: 'ConformanceCron', cron: '*/5 * * * *', emits: [], flows: ['conformance'] }

export const handler = async ({ traceId }: any) => ({ ticked: true, traceId })
