# scripted.rb: the per-pattern program of a backend group whose rule carries a user
# mruby script (Ingress path-config mruby). It runs NgxgwRestore first, so the user
# script sees the real path and authority and never the internal headers, then the
# user script's on_req; on the response, NgxgwRestore's on_resp (response header
# modifiers) and then the user's on_resp. The user script is loaded from its own file
# with eval: a script that does not compile or raises while loading cannot stop
# nghttpx from accepting the configuration; its path answers 500 instead (fail
# closed: the script may guard what it forwards to). With NGXGW_DNF (doNotForward)
# nothing is forwarded and a request the script does not answer gets 500.
class NgxgwScripted
  def initialize(restore, app, dnf)
    @restore = restore
    @app = app
    @dnf = dnf
  end

  def on_req(env)
    $ngxgw_answered = false
    return unless @restore.restore(env)
    app = @app
    if app.nil?
      fail500(env, "mruby script failed to load\n")
      return
    end
    app.on_req(env) if app.respond_to?(:on_req)
    fail500(env, "mruby script did not answer\n") if @dnf && !$ngxgw_answered
  rescue Exception
    fail500(env, "")
  end

  def on_resp(env)
    $ngxgw_answered = false
    @restore.on_resp(env)
    app = @app
    app.on_resp(env) if app && app.respond_to?(:on_resp)
  rescue Exception
    fail500(env, "")
  end

  def fail500(env, body)
    return if $ngxgw_answered
    resp = env.resp
    resp.status = 500
    resp.set_header("content-type", "text/plain; charset=utf-8") if body.size > 0
    resp.return(body)
  rescue Exception
  end
end

NGXGW_USER_APP = begin
  eval(File.read(NGXGW_USER_SCRIPT))
rescue Exception
  nil
end

NgxgwScripted.new(NgxgwRestore.new(NGXGW_STATE_DIR), NGXGW_USER_APP, NGXGW_DNF)
