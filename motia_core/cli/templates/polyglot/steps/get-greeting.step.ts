import { ApiRouteConfig, Handlers } from 'motia'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'GetGreeting',
  description: 'Shows a greeting and how far it got',
  method: 'GET',
  path: '/greetings/:id',
  emits: [],
  flows: ['greetings'],
}

export const handler: Handlers['GetGreeting'] = async (req, { state }) => {
  const greeting = await state.get('greetings', req.pathParams.id)
  return greeting === null
    ? { status: 404, body: { error: `no greeting ${req.pathParams.id}` } }
    : { status: 200, body: greeting }
}
