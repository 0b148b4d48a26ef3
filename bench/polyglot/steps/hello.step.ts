export const config = { type: 'api', name: 'BenchHelloTs', path: '/hello/:name', method: 'GET', emits: [] }

export const handler = async (req: any) => ({ status: 200, body: { hello: req.pathParams.name } })
