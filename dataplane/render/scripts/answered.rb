# answered.rb: remember in $ngxgw_answered that the current request got its answer
# from a script (env.resp.return), so a program that calls someone else's on_req can
# tell whether it answered. Requests of one mruby context run one at a time, so one
# flag per context is enough; a caller resets it before each call.
class Nghttpx::Response
  alias_method :ngxgw_return, :return

  def return(*args)
    $ngxgw_answered = true
    ngxgw_return(*args)
  end
end
