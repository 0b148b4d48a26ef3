# frozen_string_literal: true

module MotiaRunner
  # Motia's call convention for Ruby handlers, and the api middleware onion.
  #
  # api handler(req, ctx), event handler(input, ctx), cron handler(ctx). A handler that takes
  # fewer parameters gets the leading ones (def handler(req) for an api step); a cron handler
  # written as handler(input, ctx) gets (nil, ctx).
  module Execution
    module_function

    # body_check: the invocation, when the core asked for the body to be checked (validateBody).
    def run(step, trigger, input, ctx, body_check: nil)
      if trigger == 'cron'
        call(step.handler, step.handler.arity == 2 ? [nil, ctx] : [ctx])
      elsif trigger == 'api' && (!step.middleware.empty? || body_check)
        with_middleware(step, input, ctx, body_check)
      else
        call(step.handler, [input, ctx])
      end
    end

    def call(handler, args)
      arity = handler.arity
      handler.call(*(arity >= 0 && arity < args.length ? args.first(arity) : args))
    end

    # First middleware outermost. Each is called (req, ctx, next_fn); next_fn.call takes no
    # arguments and returns the downstream response, which the middleware may change or replace.
    # With body_check the core checks the body as the middleware left it, just before the
    # handler; its 400 then stands for the handler's response (PROTOCOL.md 3.3).
    def with_middleware(step, req, ctx, body_check)
      chain = step.middleware
      at = lambda do |index|
        if index == chain.length
          refused = body_check && refused_body(body_check, req)
          refused.nil? ? call(step.handler, [req, ctx]) : refused
        else
          chain[index].call(req, ctx, proc { at.call(index + 1) })
        end
      end
      at.call(0)
    end

    def refused_body(inv, req)
      body = req.is_a?(Hash) ? req['body'] : nil
      inv.call('body.validate', { 'body' => Json.plain(body, 'the request body') })
    end
  end
end
