// The api step's place: a Fastify endpoint that accepts {id, sink} and enqueues it on BullMQ.
// The job is in Redis (BullMQ's add runs one Lua script) before the 200 goes out.
'use strict'

const Fastify = require('fastify')
const { Queue } = require('bullmq')
const { prefix, jobOptions, connect, ACCEPTED, readyKey } = require('./common')

const port = Number(process.env.HANDBUILT_PORT || process.argv[2] || 3000)
const redis = connect()
const accepted = new Queue(ACCEPTED, { connection: redis, prefix })
const app = Fastify({ logger: false })

app.post('/pipeline', async (request, reply) => {
  const body = request.body
  if (!body || typeof body.id !== 'string' || typeof body.sink !== 'string') {
    reply.code(400)
    return { error: 'POST /pipeline wants a JSON body {"id": string, "sink": string}' }
  }
  await accepted.add('accepted', body, jobOptions)
  return { accepted: body.id }
})

// 200 once both workers have said they listen (each sets its key when its worker is ready).
app.get('/ready', async (request, reply) => {
  const up = await redis.exists(readyKey('node'), readyKey('python'))
  reply.code(up === 2 ? 200 : 503)
  return { ready: up === 2 }
})

async function stop () {
  await app.close()
  await accepted.close()
  redis.disconnect()
  process.exit(0)
}

process.on('SIGTERM', stop)
process.on('SIGINT', stop)
app.listen({ host: '127.0.0.1', port }).catch((error) => {
  console.error(`handbuilt server: cannot listen on 127.0.0.1:${port}: ${error.message}`)
  process.exit(1)
})
