# frozen_string_literal: true

require_relative 'errors'
require_relative 'json_value'

module MotiaRunner
  # The `ctx` object Ruby handlers receive (MOTIA_CONTRACT 3.4, plus streams).
  #
  # Every call is a request to the core tagged with the invocation id (PROTOCOL.md 3.4) and
  # blocks the calling thread until the core answers; an error answer raises the matching
  # MotiaRunner::RpcError with the core's message. Values read back are JsonObjects (String
  # keys, Symbol access allowed); values sent may use Symbol keys and values.
  module Args
    module_function

    # Group ids, keys and item ids are strings on the wire; a Symbol or number is converted.
    def key(value)
      value.nil? || value.is_a?(String) ? value : value.to_s
    end

    def pick(hash, *names)
      names.each do |name|
        return hash[name] if hash.key?(name)
        return hash[name.to_sym] if hash.key?(name.to_sym)
      end
      nil
    end
  end

  # ctx.state: free-form group ids, JSON values. Also ctx.state[:get].call(group, key), as the
  # original Ruby runner allowed.
  class State
    OPERATIONS = %i[get set delete clear get_group getGroup].freeze

    def initialize(inv)
      @inv = inv
    end

    def get(group, key)
      @inv.call('state.get', 'group' => Args.key(group), 'key' => Args.key(key))
    end

    def set(group, key, value)
      @inv.call('state.set', 'group' => Args.key(group), 'key' => Args.key(key),
                             'value' => Json.plain(value, 'ctx.state.set value'))
    end

    def delete(group, key)
      @inv.call('state.delete', 'group' => Args.key(group), 'key' => Args.key(key))
    end

    def clear(group)
      @inv.call('state.clear', 'group' => Args.key(group))
    end

    def get_group(group)
      @inv.call('state.getGroup', 'group' => Args.key(group))
    end
    alias getGroup get_group # rubocop:disable Naming/MethodName

    def [](operation)
      name = operation.to_sym
      unless OPERATIONS.include?(name)
        raise NoMethodError, "ctx.state has no operation #{operation.inspect}; it has " \
                             "#{OPERATIONS.join(', ')}"
      end

      method(name)
    end
  end

  # ctx.logger: info|warn|error|debug(message, fields = nil), fields merged flat into the record.
  class Logger
    def initialize(inv)
      @inv = inv
    end

    %w[info warn error debug].each do |level|
      define_method(level) { |message, fields = nil| @inv.log(level, message, fields) }
    end
    alias warning warn
  end

  # ctx.streams.<name>: items addressed by group id and item id.
  class Stream
    attr_reader :name

    def initialize(inv, name)
      @inv = inv
      @name = name
    end

    def get(group_id, id)
      @inv.call('streams.get', 'stream' => @name, 'group' => Args.key(group_id), 'id' => Args.key(id))
    end

    def set(group_id, id, data)
      @inv.call('streams.set', 'stream' => @name, 'group' => Args.key(group_id), 'id' => Args.key(id),
                               'data' => Json.plain(data, "ctx.streams.#{@name}.set data"))
    end

    def delete(group_id, id)
      @inv.call('streams.delete', 'stream' => @name, 'group' => Args.key(group_id), 'id' => Args.key(id))
    end

    def get_group(group_id)
      @inv.call('streams.getGroup', 'stream' => @name, 'group' => Args.key(group_id))
    end
    alias getGroup get_group # rubocop:disable Naming/MethodName

    # An ephemeral event to the channel's subscribers: channel {groupId:, id:}, event {type:, data:}.
    # (Object#send stays reachable as __send__ / public_send.)
    def send(channel, event)
      unless channel.is_a?(Hash) && event.is_a?(Hash)
        raise TypeError, "ctx.streams.#{@name}.send(channel, event) takes two Hashes, " \
                         "e.g. send({ groupId: 'room' }, { type: 'ping', data: {} })"
      end
      wire_channel = { 'groupId' => Args.key(Args.pick(channel, 'groupId', 'group_id')) }
      item = Args.pick(channel, 'id')
      wire_channel['id'] = Args.key(item) unless item.nil?
      wire_event = { 'type' => Args.key(Args.pick(event, 'type')),
                     'data' => Json.plain(Args.pick(event, 'data'), "ctx.streams.#{@name}.send event data") }
      @inv.call('streams.send', 'stream' => @name, 'channel' => wire_channel, 'event' => wire_event)
    end
  end

  # ctx.streams: every stream of the project, by name (ctx.streams['my-stream'],
  # ctx.streams[:todo]) or as a method (ctx.streams.todo, ctx.streams.my_stream).
  class Streams
    include Enumerable

    def initialize(inv, names)
      @by_name = names.to_h { |name| [name, Stream.new(inv, name)] }
      @by_method = @by_name.transform_keys { |name| name.gsub(/\W/, '_') }
    end

    def [](name)
      @by_name.fetch(name.to_s) { raise KeyError, unknown(name) }
    end

    def key?(name)
      @by_name.key?(name.to_s)
    end

    def keys
      @by_name.keys
    end

    def each(&block)
      @by_name.each(&block)
    end

    def size
      @by_name.size
    end

    def respond_to_missing?(name, include_private = false)
      @by_method.key?(name.to_s) || super
    end

    def method_missing(name, *args)
      stream = @by_method[name.to_s]
      return stream if stream && args.empty?

      super
    rescue NoMethodError
      raise NoMethodError, unknown(name)
    end

    private

    def unknown(name)
      "no stream named #{name.to_s.inspect}; the project defines #{@by_name.keys.sort.inspect}"
    end
  end

  # What a handler gets as `ctx`.
  class Context
    # traceparent/tracestate: the W3C context of the step's span, for outgoing calls (PROTOCOL.md 3.9).
    attr_reader :trace_id, :flows, :state, :logger, :traceparent, :tracestate

    def initialize(inv, trace_id, flows, trace = nil)
      @inv = inv
      @trace_id = trace_id
      @traceparent = trace && trace['traceparent'].is_a?(String) ? trace['traceparent'] : nil
      @tracestate = trace && trace['tracestate'].is_a?(String) ? trace['tracestate'] : nil
      @flows = flows
      @state = State.new(inv)
      @logger = Logger.new(inv)
      @streams = nil
    end

    alias traceId trace_id # rubocop:disable Naming/MethodName

    def streams
      @streams ||= Streams.new(@inv, @inv.stream_names)
    end

    # The W3C headers for an outgoing call: { 'traceparent' => ..., 'tracestate' => ... }.
    def trace_context
      return {} if @traceparent.nil?

      @tracestate ? { 'traceparent' => @traceparent, 'tracestate' => @tracestate } : { 'traceparent' => @traceparent }
    end

    # Publishes { topic:, data:, messageGroupId: } (Symbol or String keys, or keyword arguments);
    # returns once the core accepted the event.
    def emit(event = nil, **fields)
      event = fields if event.nil?
      unless event.is_a?(Hash)
        raise TypeError, "ctx.emit takes a Hash { topic: 'order.created', data: {...} }, got #{event.class}"
      end

      params = { 'topic' => Args.key(Args.pick(event, 'topic')),
                 'data' => Json.plain(Args.pick(event, 'data'), 'ctx.emit data') }
      group = Args.pick(event, 'messageGroupId', 'message_group_id')
      params['messageGroupId'] = Args.key(group) unless group.nil?
      @inv.call('emit', params)
      nil
    end
  end
end
