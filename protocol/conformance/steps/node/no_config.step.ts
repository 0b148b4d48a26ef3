// A handler without a config: loading it is an InvalidConfig error.
export const handler = async () => ({ unreachable: true })
