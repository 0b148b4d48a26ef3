# User output at load time and in the handler must never reach the protocol channel.
puts 'conformance: printed at load time'

def config
  { type: 'event', name: 'ConformancePrint', subscribes: ['conformance.print'], emits: [] }
end

def handler(_input, _ctx)
  puts 'conformance: printed by the handler'
  IO.new(1, autoclose: false).syswrite("conformance: written to fd 1\n")
  { printed: true }
end
