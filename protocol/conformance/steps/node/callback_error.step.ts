// The core answers this state.set with an error: it must reach the handler as one.
export const config = { type: 'event', name: 'ConformanceRefused', subscribes: ['conformance.refused'], emits: [] }

export const handler = async (_input: unknown, { state }: any) => {
  try {
    await state.set('conformance', 'refused', 1)
  } catch (error: any) {
    return { caught: error.code, message: error.message }
  }
  return { caught: null }
}
