# frozen_string_literal: true

require_relative 'errors'
require_relative 'execution'
require_relative 'json_value'

module MotiaRunner
  # streams.canAccess (PROTOCOL.md 3.8): a stream file's config[:canAccess], evaluated for one
  # WebSocket join. It gets what the original gave it: the subscription ({"groupId", "id"?}, a
  # JsonObject) and the auth context; the answer is its truthiness.
  module Access
    module_function

    # The join's verdict; raises an RpcError the server sends back as the answer.
    def check(steps, params)
      file, subscription, auth_context = arguments(params)
      step = steps[file]
      if step.nil?
        raise StepNotFound, "streams.canAccess: no stream loaded from #{file.inspect}; send steps.load " \
                            'for it first, or fix the error its load reported'
      end
      callable = step.config[:canAccess] || step.config['canAccess']
      return true unless callable.respond_to?(:call) # loaded without canAccess: the stream is open

      begin
        Execution.call(callable, [Json.wrap(subscription), Json.wrap(auth_context)]) ? true : false
      rescue Exception => e # rubocop:disable Lint/RescueException -- reported, never raised here
        raise Failure.handler_error(e)
      end
    end

    def arguments(params)
      unless params.is_a?(Hash)
        raise InvalidParams, "streams.canAccess: params must be an object, got #{params.class}"
      end

      file = params['file']
      subscription = params['subscription']
      unless file.is_a?(String)
        raise InvalidParams, 'streams.canAccess: params.file must be a string (the stream file)'
      end
      unless subscription.is_a?(Hash) && subscription['groupId'].is_a?(String) &&
             (subscription['id'].nil? || subscription['id'].is_a?(String))
        raise InvalidParams, 'streams.canAccess: params.subscription must be an object with a string ' \
                             'groupId and an optional string id'
      end
      clean = { 'groupId' => subscription['groupId'] }
      clean['id'] = subscription['id'] unless subscription['id'].nil?
      [file, clean, params['authContext']]
    end
  end
end
