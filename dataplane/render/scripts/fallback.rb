# fallback.rb: the per-pattern program of the catch-all group "/" (dnf: no backend is
# ever dialled). Requests reach it only when the router steered to a group that does
# not exist (yet), so the answer is 503.
class NgxgwFallback
  def on_req(env)
    env.resp.status = 503
    env.resp.return("no healthy upstream\n")
  rescue
  end
end

NgxgwFallback.new
