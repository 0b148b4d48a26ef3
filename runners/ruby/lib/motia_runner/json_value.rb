# frozen_string_literal: true

require 'json'
require 'set'
require 'time'

module MotiaRunner
  # What step code receives for a JSON object (the api request, an event's input, values read
  # from state and streams): a Hash with String keys, as JSON has them, that also answers the
  # ways Motia's Ruby steps were written against the original runner, which handed them an
  # OpenStruct:
  #
  #   req['body']['name']   req[:body][:name]   req.body.name   input.dig(:order, 'id')
  #   input => { order: { id: } }            (pattern matching with symbol keys)
  #
  # Keys are always stored as Strings; a Symbol given to [], []=, fetch, key?, dig, delete,
  # merge, ... is converted first. A getter for a key that is absent answers nil (as OpenStruct
  # did), except for names starting with `to_` so implicit conversions keep working. Hash's own
  # methods win over keys of the same name (`input.size`); use input['size'] for those.
  class JsonObject < Hash
    def self.key(name)
      name.is_a?(Symbol) ? name.name : name
    end

    def [](name)
      super(JsonObject.key(name))
    end

    def []=(name, value)
      super(JsonObject.key(name), value)
    end
    alias store []=

    def fetch(name, *rest, &block)
      super(JsonObject.key(name), *rest, &block)
    end

    def key?(name)
      super(JsonObject.key(name))
    end
    alias has_key? key?
    alias include? key?
    alias member? key?

    def dig(name, *rest)
      super(JsonObject.key(name), *rest.map { |k| JsonObject.key(k) })
    end

    def delete(name, &block)
      super(JsonObject.key(name), &block)
    end

    def values_at(*names)
      super(*names.map { |k| JsonObject.key(k) })
    end

    def fetch_values(*names, &block)
      super(*names.map { |k| JsonObject.key(k) }, &block)
    end

    def slice(*names)
      super(*names.map { |k| JsonObject.key(k) })
    end

    def except(*names)
      super(*names.map { |k| JsonObject.key(k) })
    end

    def merge(*others, &block)
      dup.update(*others, &block)
    end

    def update(*others, &block)
      others.each do |other|
        other.each_pair do |k, v|
          k = JsonObject.key(k)
          super(k => (block && key?(k) ? block.call(k, self[k], v) : v))
        end
      end
      self
    end
    alias merge! update

    def deconstruct_keys(_keys)
      transform_keys(&:to_sym)
    end

    def respond_to_missing?(name, include_private = false)
      text = name.name
      key?(text.end_with?('=') ? text[0...-1] : text) || super
    end

    def method_missing(name, *args)
      text = name.name
      if text.end_with?('=') && args.length == 1
        self[text[0...-1]] = args[0]
      elsif args.empty? && !block_given? && text.match?(/\A[a-z_][A-Za-z0-9_]*\z/) && !text.start_with?('to_')
        self[text]
      else
        super
      end
    end
  end

  # Conversions between protocol JSON and step code's Ruby values.
  module Json
    MAX_NESTING = 1000

    module_function

    # Parsed JSON -> what step code gets: every object a JsonObject, recursively.
    def wrap(value)
      case value
      when Hash
        obj = JsonObject.new
        value.each_pair { |k, v| obj.store(k, wrap(v)) }
        obj
      when Array then value.map { |v| wrap(v) }
      else value
      end
    end

    # Step code's value -> plain JSON data (String keys, finite numbers, UTF-8 strings). Symbols
    # become strings; Set becomes an array; Struct/OpenStruct (anything with a no-argument
    # `to_h`) an object; Time/Date an ISO 8601 string. Anything else raises TypeError naming
    # where it sits (`what` names the whole value, e.g. "config" or "the return value"; `trail`
    # is [parent trail, key], rendered only when there is an error to report).
    def plain(value, what, trail = nil, depth = 0)
      case value
      when String then utf8(value)
      when Integer, true, false, nil then value
      when Symbol then value.name
      when Float
        return value if value.finite?

        raise TypeError, "#{where(what, trail)} is #{value}, which JSON cannot represent"
      when Hash, Array, Set
        if depth >= MAX_NESTING
          raise TypeError, "#{where(what, trail)} is nested deeper than #{MAX_NESTING} levels " \
                           '(or contains itself)'
        end
        container(value, what, trail, depth + 1)
      else other(value, what, trail, depth)
      end
    end

    def container(value, what, trail, depth)
      if value.is_a?(Hash)
        out = {}
        value.each_pair do |k, v|
          out[object_key(k, what, trail)] = plain(v, what, [trail, k], depth)
        end
        out
      else
        value.each_with_index.map { |v, i| plain(v, what, [trail, i], depth) }
      end
    end

    def other(value, what, trail, depth)
      if value.respond_to?(:iso8601) && !value.is_a?(Numeric)
        value.iso8601
      elsif value.respond_to?(:to_h) && value.method(:to_h).arity.zero?
        plain(value.to_h, what, trail, depth)
      else
        raise TypeError, "#{where(what, trail)} is an object of class #{value.class}, which is not JSON; " \
                         'use Hash, Array, String, Symbol, Integer, Float, true, false or nil'
      end
    end

    # "the return value[:body][\"items\"][0]", keeping the last 12 steps of a long trail.
    def where(what, trail)
      keys = []
      while trail
        trail, key = trail
        keys << "[#{key.inspect}]"
      end
      keys.reverse!
      keys = ['...', *keys.last(12)] if keys.length > 12
      "#{what}#{keys.join}"
    end

    def object_key(key, what, trail)
      case key
      when String then utf8(key)
      when Symbol then key.name
      when Integer, Float, true, false, nil then key.to_s
      else
        raise TypeError, "#{where(what, trail)} has a #{key.class} key (#{key.inspect}); " \
                         'JSON keys are strings'
      end
    end

    def utf8(text)
      return text if text.encoding == Encoding::UTF_8 && text.valid_encoding?

      copy = text.dup.force_encoding(Encoding::UTF_8)
      copy.valid_encoding? ? copy : copy.scrub
    end

    # One generator state for the main thread (where the event loop writes nearly every message),
    # reset before each use; other threads make their own.
    MAIN_STATE = JSON::State.new(max_nesting: MAX_NESTING + 10)

    def dump(message)
      if Thread.current.equal?(Thread.main)
        MAIN_STATE.depth = 0
        MAIN_STATE.generate(message)
      else
        JSON.generate(message, max_nesting: MAX_NESTING + 10)
      end
    end

    def parse(line)
      JSON.parse(line, max_nesting: MAX_NESTING + 10)
    end
  end
end
