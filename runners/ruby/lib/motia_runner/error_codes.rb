# frozen_string_literal: true

# Generated from motia_core/protocol/errors.py by `make schema`: do not edit.
#
# JSON-RPC errors of protocol v1: name => [code, default message]; errors.rb makes a
# class of each.
module MotiaRunner
  ERROR_CODES = {
    # The message is not valid JSON.
    'ParseError' => [-32_700, 'Parse error'],
    # The JSON is not a valid JSON-RPC 2.0 request, response or notification.
    'InvalidRequest' => [-32_600, 'Invalid request'],
    # No such method on this peer.
    'MethodNotFound' => [-32_601, 'Method not found'],
    # The params do not match the method's schema.
    'InvalidParams' => [-32_602, 'Invalid params'],
    # A bug in the peer that answered; `data.stack` has its traceback.
    'InternalError' => [-32_603, 'Internal error'],
    # The request was cancelled with `$/cancelRequest` (the code LSP uses).
    'RequestCancelled' => [-32_800, 'Request cancelled'],
    # The step's handler raised; `data` is {name, message, stack}.
    'HandlerError' => [-32_001, 'Step handler failed'],
    # The runner has no loaded step for that file.
    'StepNotFound' => [-32_002, 'Step not found'],
    # A step or stream file could not be loaded or its config is invalid.
    'InvalidConfig' => [-32_003, 'Invalid step config'],
    # The invocation ran past its deadline and was cancelled.
    'TimedOut' => [-32_004, 'Step execution timed out'],
    # The runner process died (or broke the protocol) while the request was pending.
    'RunnerCrashed' => [-32_005, 'Runner crashed'],
    # The two sides do not speak a common protocol version.
    'UnsupportedProtocolVersion' => [-32_006, 'Unsupported protocol version'],
    # A message exceeds the agreed maximum size.
    'MessageTooLarge' => [-32_007, 'Message too large'],
    # No runner process is ready to take the request (starting, backing off, or given up).
    'RunnerNotReady' => [-32_008, 'Runner not ready'],
    # A callback names an invocation that is not running (it ended, or never existed).
    'InvocationNotFound' => [-32_009, 'Invocation not found'],
    # The peer is shutting down and takes no new work.
    'ShuttingDown' => [-32_010, 'Shutting down']
  }.freeze
end
