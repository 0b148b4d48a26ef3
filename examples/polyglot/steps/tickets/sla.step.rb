# Ruby in the same flow: after Python's triage, compute the ticket's response deadline.
SLA_HOURS = { 'urgent' => 1, 'normal' => 24, 'low' => 72 }.freeze

def config
  {
    type: 'event',
    name: 'SetSla',
    description: 'Response deadline from the triaged priority',
    subscribes: ['ticket.triaged'],
    emits: [],
    flows: ['support']
  }
end

def handler(input, ctx)
  ticket = ctx.state.get('tickets', input.id)
  hours = SLA_HOURS.fetch(input.priority, 24)
  ctx.state.set('sla', input.id, { 'hours' => hours, 'team' => input.team,
                                   'customer' => ticket['customer'], 'traceId' => ctx.trace_id })
  ctx.logger.info('sla set', ticketId: input.id, hours: hours)
  nil
end
