# RequestMirror (render/mirror.go), used by router.rb. A rule with mirrors is
# steered through the tee: the router samples the mirrors (a deterministic
# error-diffusion counter per mirror and worker: exactly numerator of every
# denominator requests), names the chosen primary group and the mirror groups in
# internal headers and sends the request to the tee's group. The tee sends it,
# and each copy, back to the internal frontend, where internal() trusts
# x-ngxgw-target (only there: the port is bound to 127.0.0.1 and only the tee
# uses it) and steers straight to that group, whose restore.rb works as usual
# (with NGXGW_DIRECT the path stays the client's all along).
module NgxgwMirror
  TARGET = "x-ngxgw-target"
  SCHEME = "x-ngxgw-scheme"
  PRIMARY = "x-ngxgw-mirror-primary"
  KEYS = "x-ngxgw-mirror-keys"

  # tee steers req to the tee when at least one mirror of rule r is sampled;
  # false leaves the request to the router (straight to primary).
  def self.tee(r, req, primary)
    ms = r[:mirror]
    return false unless ms
    acc = r[:mirror_acc]
    unless acc
      # Start one short of a copy, so the first request is mirrored.
      acc = r[:mirror_acc] = ms.map { |m| m[2] - 1 }
    end
    keys = []
    i = 0
    while i < ms.size
      m = ms[i]
      acc[i] += m[1]
      if acc[i] >= m[2]
        acc[i] -= m[2]
        keys << m[0]
      end
      i += 1
    end
    return false if keys.empty?
    req.set_header(PRIMARY, primary)
    req.set_header(KEYS, keys.join(" "))
    req.set_header(SCHEME, req.scheme)
    NgxgwRouter.steer(req, NGXGW_TEE_KEY)
    true
  end

  # internal serves the internal frontend: steer to the group in x-ngxgw-target
  # and restore the client's scheme (X-Forwarded-Proto is built from it).
  def self.internal(env)
    req = env.req
    h = req.headers
    t = h[TARGET]
    s = h[SCHEME]
    [TARGET, SCHEME, PRIMARY, KEYS].each { |n| req.set_header(n, []) }
    unless t && t.size == 1 && key?(t[0])
      env.resp.status = 400
      env.resp.return("")
      return
    end
    req.scheme = s[0] if s && (s[0] == "http" || s[0] == "https")
    NgxgwRouter.steer(req, t[0])
  end

  # key? accepts group keys: [a-z0-9-]+.
  def self.key?(k)
    return false if k.size == 0 || k.size > 128
    k.each_byte do |c|
      return false unless (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == 45
    end
    true
  end
end
