// Settings shared by the hand-built stack's Node processes, all from the environment the
// benchmark (or a person) sets: where Redis is, the key prefix of this stack, how many jobs a
// worker runs at once.
'use strict'

const IORedis = require('ioredis')

const url = process.env.HANDBUILT_REDIS_URL || 'redis://127.0.0.1:6379/0'
const prefix = process.env.HANDBUILT_PREFIX || 'handbuilt'
const concurrency = Number(process.env.HANDBUILT_CONCURRENCY || 10)

// What a team would set on every job: a few retries, finished jobs removed (Redis is memory),
// failed ones kept for a look (the stack's dead-letter list).
const jobOptions = { attempts: 3, backoff: { type: 'exponential', delay: 200 },
  removeOnComplete: true, removeOnFail: 1000 }

// BullMQ wants maxRetriesPerRequest: null on the connections its workers block on.
function connect () {
  return new IORedis(url, { maxRetriesPerRequest: null })
}

module.exports = {
  url, prefix, concurrency, jobOptions, connect,
  ACCEPTED: 'compare.pipe.accepted',
  RECORDED: 'compare.pipe.recorded',
  stateKey: `${prefix}:state:compare-pipeline`,
  readyKey: (who) => `${prefix}:ready:${who}`,
}
