import { StreamConfig } from 'motia'

export const config: StreamConfig = {
  name: 'progress',
  schema: {
    type: 'object',
    properties: { percent: { type: 'number' }, stage: { type: 'string' } },
    required: ['percent', 'stage'],
  },
  baseConfig: { storageType: 'default' },
}
