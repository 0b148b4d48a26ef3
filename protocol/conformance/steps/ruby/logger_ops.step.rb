def config
  { type: 'event', name: 'ConformanceLogger', subscribes: ['conformance.log'], emits: [] }
end

def handler(_input, ctx)
  ctx.logger.info('conformance info', { orderId: 7 })
  ctx.logger.warn('conformance warn', { flag: true })
  ctx.logger.error('conformance error', { code: 'E1' })
  ctx.logger.debug('conformance debug')
  { logged: 4 }
end
