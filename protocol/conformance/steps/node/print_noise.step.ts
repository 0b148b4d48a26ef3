// User output at load time and in the handler must never reach the protocol channel.
import { writeSync } from 'node:fs'

console.log('conformance: printed at load time')

export const config = { type: 'event', name: 'ConformancePrint', subscribes: ['conformance.print'], emits: [] }

export const handler = async () => {
  console.log('conformance: printed by the handler')
  process.stdout.write('conformance: process.stdout.write\n')
  writeSync(1, 'conformance: written to fd 1\n')
  return { printed: true }
}
