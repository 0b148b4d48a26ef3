import { NoopConfig } from 'motia'

// Drawn in the flow: a person escalates urgent tickets by phone. Never invoked.
export const config: NoopConfig = {
  type: 'noop',
  name: 'PhoneEscalation',
  virtualSubscribes: ['ticket.triaged'],
  virtualEmits: [],
  flows: ['support'],
}
