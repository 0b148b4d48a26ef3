// GET through a TypeScript api step. The same file runs on motia-core and on the original Motia.
export const config = {
  type: 'api', name: 'CompareHelloTs', path: '/ts/hello/:name', method: 'GET', emits: [],
  flows: ['compare'],
}

export const handler = async (req: any) => ({ status: 200, body: { hello: req.pathParams.name } })
