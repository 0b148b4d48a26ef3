# frozen_string_literal: true

require 'rbconfig'
require_relative 'errors'
require_relative 'json_value'

module MotiaRunner
  # One loaded file: what invocations need, resolved once at load time. `handler` is a Method
  # (nil for noop steps and streams); `middleware` the callables of config[:middleware].
  Step = Struct.new(:file, :scope, :config, :wire_config, :handler, :middleware, keyword_init: true)

  # Evaluates step and stream files, each into a module of its own.
  #
  # Motia's Ruby steps define top-level `def config` and `def handler`; evaluated with a plain
  # `load`, every file would redefine the same two methods on Object and the last file loaded
  # would win. So each file is evaluated once (per steps.load) into a fresh anonymous module that
  # extends itself: its top-level methods, constants and classes live in that module, top-level
  # code can call the file's own methods as a script's top level can, and two files never clash.
  # require/require_relative behave as usual (a helper file is loaded once, globally).
  class Loader
    attr_reader :root

    def initialize(root)
      self.root = root
    end

    # The project root; put on $LOAD_PATH so `require 'lib/helpers'` finds project files.
    def root=(root)
      @root = File.expand_path(root)
      $LOAD_PATH.unshift(@root) unless $LOAD_PATH.include?(@root)
    end

    # Evaluates `file` afresh and extracts its config; raises InvalidConfig when it cannot.
    def load(file)
      rel = relative(file)
      unless File.file?(file)
        raise InvalidConfig, "#{rel}: no such file; steps.load needs absolute paths of existing files"
      end

      scope = evaluate(file, rel)
      step_from(file, rel, scope)
    end

    private

    def relative(file)
      file.start_with?("#{@root}/") ? file[(@root.length + 1)..] : file
    end

    def evaluate(file, rel)
      source = File.read(file, mode: 'rb').force_encoding(Encoding::UTF_8)
      scope = Module.new
      scope.extend(scope)
      scope.module_eval(source, file, 1)
      scope
    rescue Exception => e # rubocop:disable Lint/RescueException -- SyntaxError, LoadError, exit
      # The file's top-level frames carry the name of the method that evaluated it; Ruby calls
      # a loaded file's top level `<top (required)>`.
      stack = Failure.stack_of(e).gsub(/^(\tfrom )?(#{Regexp.escape(file)}:\d+:in )`evaluate'/,
                                       "\\1\\2`<top (required)>'")
      raise InvalidConfig.new(load_message(rel, e), { 'stack' => stack })
    end

    def load_message(rel, exc)
      fix = case exc
            when SyntaxError then 'fix the syntax error; the other steps were loaded'
            when LoadError
              lib = exc.respond_to?(:path) && exc.path ? exc.path : 'the library'
              "install #{lib} for the Ruby that runs the steps (#{RbConfig.ruby}), or fix the " \
              'require (use require_relative for files of the project)'
            else 'fix the error raised while loading it (backtrace in data.stack)'
            end
      "#{rel} could not be loaded: #{Failure.name_of(exc)}: #{exc.message.strip}. To fix: #{fix}"
    end

    def defines?(scope, name)
      scope.method_defined?(name) || scope.private_method_defined?(name)
    end

    def step_from(file, rel, scope)
      unless defines?(scope, :config)
        raise InvalidConfig, "#{rel} defines no top-level `def config`; add one returning a Hash such as " \
                             "{ type: 'event', name: 'MyStep', subscribes: ['topic'], emits: [] }"
      end
      config = read_config(scope, rel)
      middleware = config[:middleware] || config['middleware'] || []
      unless middleware.is_a?(Array) && middleware.all? { |m| m.respond_to?(:call) }
        raise InvalidConfig, "#{rel}: config[:middleware] must be an Array of lambdas or methods " \
                             'taking (req, ctx, next_fn), e.g. ->(req, ctx, nxt) { nxt.call }'
      end
      handler = defines?(scope, :handler) ? scope.method(:handler) : nil
      Step.new(file: file, scope: scope, config: config, wire_config: wire_config(config, rel),
               handler: handler, middleware: middleware.freeze)
    end

    def read_config(scope, rel)
      config = scope.config
      config = config.to_hash if !config.is_a?(Hash) && config.respond_to?(:to_hash)
      return config if config.is_a?(Hash)

      raise InvalidConfig, "#{rel}: `config` must return a Hash, got #{config.class}"
    rescue InvalidConfig
      raise
    rescue Exception => e # rubocop:disable Lint/RescueException
      raise InvalidConfig.new("#{rel}: calling `config` raised #{Failure.name_of(e)}: #{e.message}",
                              { 'stack' => Failure.stack_of(e) })
    end

    SCHEMA_KEYS = %w[input bodySchema schema].freeze

    # The config as plain JSON: middleware left out (the runner runs it), a callable canAccess
    # reported as "__motia_hasCanAccess": true, and a schema object that can describe itself as
    # JSON Schema (`json_schema` or `to_json_schema`, as dry-schema's extension and others
    # offer) replaced by that description, so the core only ever sees JSON Schema.
    def wire_config(config, rel)
      wire = config.reject { |key, _| %w[middleware canAccess].include?(key.to_s) }
      wire = wire.to_h do |key, value|
        if SCHEMA_KEYS.include?(key.to_s) then [key, json_schema_of(value, rel)]
        elsif key.to_s == 'responseSchema' && value.is_a?(Hash)
          [key, value.transform_values { |schema| json_schema_of(schema, rel) }]
        else [key, value]
        end
      end
      can_access = config[:canAccess] || config['canAccess']
      if can_access.respond_to?(:call)
        wire['__motia_hasCanAccess'] = true
      elsif !can_access.nil?
        wire['canAccess'] = can_access
      end
      Json.plain(wire, 'config')
    rescue TypeError => e
      raise InvalidConfig, "#{rel}: config is not JSON-serialisable (#{e.message})"
    end

    def json_schema_of(value, rel)
      return value if value.is_a?(Hash) || value.nil?

      name = %i[json_schema to_json_schema].find { |n| value.respond_to?(n) }
      name ? value.public_send(name) : value
    rescue StandardError => e
      raise InvalidConfig.new("#{rel}: a schema in config cannot be converted to JSON Schema " \
                              "(#{value.class}##{name} raised #{Failure.name_of(e)}: #{e.message}); " \
                              'simplify it or give a plain JSON Schema Hash',
                              { 'stack' => Failure.stack_of(e) })
    end
  end
end
