export const config = { type: 'event', name: 'ConformanceLogger', subscribes: ['conformance.log'], emits: [] }

export const handler = async (_input: unknown, { logger }: any) => {
  logger.info('conformance info', { orderId: 7 })
  logger.warn('conformance warn', { flag: true })
  logger.error('conformance error', { code: 'E1' })
  logger.debug('conformance debug')
  return { logged: 4 }
}
