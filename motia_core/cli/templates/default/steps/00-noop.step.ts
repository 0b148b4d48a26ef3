import { NoopConfig } from 'motia'

/**
 * A noop step runs no code. It draws a node in the flow (a person, a manual task, a system
 * outside this project) and connects it to the steps around it.
 */
export const config: NoopConfig = {
  type: 'noop',
  name: 'Flow Starter',
  description: 'Starts the default flow',

  /** Nothing leads to this node. */
  virtualSubscribes: [],

  /** It points at the api step, which virtually subscribes to '/default'. */
  virtualEmits: ['/default'],

  flows: ['default'],
}
