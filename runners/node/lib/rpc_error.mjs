// The base of the runner's JSON-RPC errors: {code, message, data?} as on the wire, and the round
// trip between the wire object and the class matching its code.
//
// One subclass per code of protocol v1 is generated into error_codes.mjs from the core's table
// (motia_core/protocol/errors.py, `make schema`) through define() below; errors.mjs is where the
// runner imports them from.

const BY_CODE = new Map(); // code -> class, filled by define()

export class RpcError extends Error {
  static CODE = -32000;
  static MESSAGE = 'Server error';

  constructor(message, data) {
    super(message || new.target.MESSAGE);
    this.name = new.target.name;
    this.code = new.target.CODE;
    if (data !== undefined && data !== null) this.data = data;
  }

  /** The wire form: {code, message, data?}. */
  toError() {
    const error = { code: this.code, message: this.message };
    if (this.data !== undefined) error.data = this.data;
    return error;
  }

  /** The received error object as an instance of the class matching its code. */
  static fromError(error) {
    if (error === null || typeof error !== 'object') {
      return new RpcError(`malformed error object from the core: ${JSON.stringify(error)}`);
    }
    const Klass = BY_CODE.get(error.code) || RpcError;
    const exc = new Klass(String(error.message ?? ''), error.data);
    if (Klass === RpcError && Number.isInteger(error.code)) exc.code = error.code;
    return exc;
  }
}

/** A subclass of RpcError named `name` for `code`, registered for fromError. */
export const define = (name, code, message) => {
  const klass = { [name]: class extends RpcError {} }[name];
  klass.CODE = code;
  klass.MESSAGE = message;
  BY_CODE.set(code, klass);
  return klass;
};
