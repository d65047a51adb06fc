# restore.rb: the per-pattern program of a cluster's backend group: of every group
# when the router selects by rewriting the path (it then puts the request's real
# path back), else (NGXGW_DIRECT) only of groups whose requests carry internal
# headers. It drops the internal headers (but x-ngxgw-retry, which nghttpx
# consumes), and in on_resp applies the rule's CORS headers (cors.rb) and then its
# response header modifiers, looked up by their content keys in the route table's
# :cors and :resp lists. scripted.rb reuses this class for groups whose rule
# carries a user script.
class NgxgwRestore
  INTERNAL = "x-ngxgw-"
  # Read and removed by nghttpx itself (the retry patch) after this script.
  RETRY = "x-ngxgw-retry"

  def initialize(dir)
    @table = NgxgwTable.new(dir)
    @resp = nil
    @cors = nil
  end

  def reload
    t = @table.changed
    return unless t
    resp = {}
    t[:resp].each { |e| resp[e[0]] = e[1] }
    @resp = resp
    @cors = NgxgwCORS.table(t)
  rescue
  end

  def on_req(env)
    restore(env)
  end

  # restore puts the real request back; false when it answered the request itself
  # (then nothing else may run for it).
  def restore(env)
    req = env.req
    h = req.headers
    unless NGXGW_DIRECT
      path = h["x-ngxgw-path"]
      unless path
        # Only the router's rewrite leads here; anything else is refused.
        env.resp.status = 503
        env.resp.return("")
        return false
      end
      req.path = path[0]
    end
    k = h["x-ngxgw-resp"]
    # Always assign: nghttpx may hand this request the ctx of an earlier one.
    env.ctx[:ngxgw_resp] = k ? k[0] : nil
    c = h[NgxgwCORS::HEADER]
    env.ctx[:ngxgw_cors] = c ? c[0] : nil
    h.keys.each { |n| req.set_header(n, []) if n.start_with?(INTERNAL) && n != RETRY }
    true
  rescue => e
    begin
      env.resp.status = 500
      env.resp.return("")
    rescue
    end
    false
  end

  def on_resp(env)
    k = env.ctx[:ngxgw_resp]
    c = env.ctx[:ngxgw_cors]
    return unless k || c
    reload
    resp = env.resp
    if c && @cors
      kc, allow = NgxgwCORS.split(c)
      NgxgwCORS.respond(resp, @cors[kc], allow)
    end
    ops = k && @resp && @resp[k]
    return unless ops
    ops.each do |op|
      case op[0]
      when :set then resp.set_header(op[1], op[2])
      when :add then resp.add_header(op[1], op[2])
      else resp.set_header(op[1], [])
      end
    end
  rescue
    # An exception here would turn the backend's answer into an error; keep it.
  end
end

