# frozen_string_literal: true

require_relative 'channel'
require_relative 'errors'
require_relative 'json_value'

module MotiaRunner
  # One JSON-RPC 2.0 connection on the protocol IOs.
  #
  # Incoming lines are handled on the event loop (the main thread): requests and notifications go
  # to the server, responses to our own requests wake the fiber (or thread) waiting for them.
  # Outgoing messages may come from any fiber or thread; each is checked against maxMessageBytes
  # before it is queued, so an oversized result becomes an error instead of a line the core
  # would treat as a protocol violation.
  class Endpoint
    MAX_ERROR_TEXT = 4096

    attr_reader :max_bytes, :writer

    # `server` answers on_request(id, method, params), on_notification(method, params) and
    # on_closed(exit_code).
    def initialize(in_io, out_io, server, loop)
      @server = server
      @loop = loop
      @max_bytes = Channel::DEFAULT_MAX_BYTES
      @mutex = Mutex.new
      @pending = {} # our request id -> Queue that receives [:ok, result] or [:error, RpcError]
      @next_id = 0
      @writer = Writer.new(out_io, -> { server.on_closed(1) }, loop.thread)
      @reader = LineReader.new(in_io, method(:on_line), method(:on_oversized))
    end

    # Reads until end of input or #stop.
    def run
      @loop.run(@reader, @writer)
    end

    def stop
      @reader.stop
      @loop.stop
    end

    # The limit the core announced in `initialize`, for both directions.
    def max_bytes=(limit)
      @max_bytes = limit
      @reader.max_bytes = limit
    end

    # --- incoming -----------------------------------------------------------------------------

    def on_line(line)
      begin
        msg = Json.parse(line.force_encoding(Encoding::UTF_8))
      rescue JSON::ParserError, EncodingError => e
        return send_error(nil, ParseError.new("not a JSON line: #{e.message[0, 300]}"))
      end
      unless msg.is_a?(Hash) && msg['jsonrpc'] == '2.0'
        return send_error(msg.is_a?(Hash) ? msg['id'] : nil,
                          InvalidRequest.new('expected a JSON-RPC 2.0 object with "jsonrpc": "2.0"'))
      end
      method = msg['method']
      if method.nil?
        on_response(msg)
      elsif !method.is_a?(String)
        send_error(msg['id'], InvalidRequest.new('"method" must be a string'))
      elsif msg.key?('id')
        @server.on_request(msg['id'], method, msg['params'])
      else
        @server.on_notification(method, msg['params'])
      end
    end

    def on_response(msg)
      id = msg['id']
      slot = id.is_a?(Integer) ? @mutex.synchronize { @pending.delete(id) } : nil
      return if slot.nil? # an answer to a call whose caller was cancelled

      error = msg['error']
      slot.push(error.nil? ? [:ok, msg['result']] : [:error, RpcError.from_error(error)])
    end

    def on_oversized(big)
      fields = big.fields
      id = fields['id']
      error = MessageTooLarge.new("received a message of #{big.size} bytes, over " \
                                  "maxMessageBytes=#{@max_bytes}")
      slot = id.is_a?(Integer) && !fields.key?('method') ? @mutex.synchronize { @pending.delete(id) } : nil
      if slot
        slot.push([:error, error])
      elsif !id.nil?
        send_error(id, error)
      else
        warn "motia-ruby-runner: #{error.message} and its id cannot be found; exiting"
        @server.on_closed(1)
      end
    end

    # --- outgoing -----------------------------------------------------------------------------

    def frame(message)
      line = Json.dump(message)
      if line.bytesize > @max_bytes
        what = message['method'] || 'response'
        raise MessageTooLarge, "#{what} would be #{line.bytesize} bytes, over maxMessageBytes=#{@max_bytes}"
      end
      line << "\n"
    end

    # Sends a request to the core and suspends this fiber (blocks this thread) until the answer;
    # an error answer raises it. A Cancelled raised into the waiter leaves no entry behind.
    def request(method, params)
      id = @mutex.synchronize { @next_id += 1 }
      line = frame({ 'jsonrpc' => '2.0', 'id' => id, 'method' => method, 'params' => params })
      slot = Queue.new
      @mutex.synchronize { @pending[id] = slot }
      begin
        @writer.write(line)
        kind, value = slot.pop
      ensure
        @mutex.synchronize { @pending.delete(id) }
      end
      raise value if kind == :error

      value
    end

    def notify(method, params)
      @writer.write(frame({ 'jsonrpc' => '2.0', 'method' => method, 'params' => params }))
    end

    # Answers a request; an oversized result is answered with MessageTooLarge instead.
    def respond(id, result)
      line = begin
        frame({ 'jsonrpc' => '2.0', 'id' => id, 'result' => result })
      rescue MessageTooLarge => e
        return send_error(id, e)
      end
      @writer.write(line)
    end

    # Answers a request with an error, shedding `data` (then text) to fit the limit.
    def send_error(id, error)
      body = error.to_error
      line = begin
        frame({ 'jsonrpc' => '2.0', 'id' => id, 'error' => body })
      rescue MessageTooLarge, JSON::GeneratorError, TypeError
        body.delete('data')
        body['message'] = body['message'][0, MAX_ERROR_TEXT]
        frame({ 'jsonrpc' => '2.0', 'id' => id, 'error' => body })
      end
      @writer.write(line)
    end
  end
end
