// The TS event step's place: a BullMQ worker that records the item in state (a Redis hash,
// one field per id) and passes it on to the Python worker's queue.
'use strict'

const { Queue, Worker } = require('bullmq')
const { prefix, concurrency, jobOptions, connect, ACCEPTED, RECORDED, stateKey, readyKey } =
  require('./common')

const redis = connect()
const recorded = new Queue(RECORDED, { connection: redis, prefix })

const worker = new Worker(ACCEPTED, async (job) => {
  const item = job.data
  await redis.hset(stateKey, item.id, JSON.stringify({ id: item.id, recorded: true }))
  await recorded.add('recorded', item, jobOptions)
}, { connection: connect(), prefix, concurrency })

worker.on('failed', (job, error) => {
  console.error(`handbuilt worker-record: job ${job && job.id} failed: ${error.message}`)
})

async function stop () {
  await worker.close()
  await recorded.close()
  redis.disconnect()
  process.exit(0)
}

process.on('SIGTERM', stop)
process.on('SIGINT', stop)
worker.waitUntilReady()
  .then(() => redis.set(readyKey('node'), String(process.pid)))
  .catch((error) => {
    console.error(`handbuilt worker-record: cannot start: ${error.message}`)
    process.exit(1)
  })
