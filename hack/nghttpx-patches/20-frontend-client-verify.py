# Per-frontend client certificate verification (Gateway spec.tls.frontend).
# Upstream's --verify-client/--verify-client-cacert apply to every TLS frontend of the
# process, so one Gateway could not trust different CAs on different ports.
#
#   frontend=<HOST>,<PORT>;tls;verify-client=<CAFILE>[;verify-client-optional]
#
# verify-client=<CAFILE>: request a client certificate on this frontend and verify it
#   against the PEM bundle CAFILE only (loaded once per configuration, when it is
#   parsed; a bad file fails the configuration). Without a certificate, or with one
#   that does not verify, the handshake fails.
# verify-client-optional: still request a certificate and verify it, but accept the
#   connection when it is missing or does not verify (AllowInsecureFallback).
# Frontends without these parameters behave exactly as before. TCP only (not quic).
#
# BoringSSL keeps the verify store and the session id context in the SSL's CERT, which
# SSL_set_SSL_CTX() (SNI certificate selection) replaces, so both are applied on accept
# and again after every switch. The session id context is derived from the CA bundle
# and the mode: a session (or ticket) from another frontend or from another CA/mode
# is never resumed here, so resumption cannot skip the client certificate check.

patch("src/shrpx_config.h", [
    ("#include <memory>\n#include <set>\n", "#include <array>\n#include <memory>\n#include <set>\n", 1),
    ("struct UpstreamAddr {\n",
     "// Per-frontend client certificate verification (verify-client=).\n"
     "struct FrontendClientVerify {\n"
     "  FrontendClientVerify() = default;\n"
     "  FrontendClientVerify(const FrontendClientVerify &) = delete;\n"
     "  FrontendClientVerify &operator=(const FrontendClientVerify &) = delete;\n"
     "  ~FrontendClientVerify() {\n"
     "    X509_STORE_free(store);\n"
     "    if (ca_list) {\n"
     "      sk_X509_NAME_pop_free(ca_list, X509_NAME_free);\n"
     "    }\n"
     "  }\n"
     "  // Trust anchors for this frontend only.\n"
     "  X509_STORE *store = nullptr;\n"
     "  // Names sent in CertificateRequest.\n"
     "  STACK_OF(X509_NAME) *ca_list = nullptr;\n"
     "  // Session id context: SHA-256 of the mode and the CA bundle.\n"
     "  std::array<uint8_t, 32> sid_ctx{};\n"
     "  // true: request, but accept a missing or unverifiable certificate.\n"
     "  bool optional = false;\n"
     "};\n\n"
     "struct UpstreamAddr {\n", 1),
    ("  bool accept_proxy_protocol;\n  bool quic;\n  int fd;\n};\n",
     "  bool accept_proxy_protocol;\n  bool quic;\n  int fd;\n"
     "  // Set by verify-client=; shared by the copies of this address.\n"
     "  std::shared_ptr<FrontendClientVerify> client_verify;\n"
     "};\n", 1),
])

patch("src/shrpx_config.cc", [
    ("struct UpstreamParams {\n  UpstreamAltMode alt_mode;\n",
     "struct UpstreamParams {\n  StringRef verify_client_cacert;\n  bool verify_client_optional;\n"
     "  UpstreamAltMode alt_mode;\n", 1),
    ("    } else if (util::strieq_l(\"proxyproto\", param)) {\n      out.proxyproto = true;\n",
     "    } else if (util::strieq_l(\"proxyproto\", param)) {\n      out.proxyproto = true;\n"
     "    } else if (util::istarts_with_l(param, \"verify-client=\")) {\n"
     "      out.verify_client_cacert =\n"
     "          StringRef{first + str_size(\"verify-client=\"), end};\n"
     "      if (out.verify_client_cacert.empty()) {\n"
     "        LOG(ERROR) << \"frontend: verify-client: CA file is empty\";\n"
     "        return -1;\n"
     "      }\n"
     "    } else if (util::strieq_l(\"verify-client-optional\", param)) {\n"
     "      out.verify_client_optional = true;\n", 1),
    ("    UpstreamAddr addr{};\n    addr.fd = -1;\n    addr.tls = params.tls;\n",
     "    if (params.verify_client_optional && params.verify_client_cacert.empty()) {\n"
     "      LOG(ERROR) << \"frontend: verify-client-optional requires verify-client\";\n"
     "      return -1;\n"
     "    }\n\n"
     "    UpstreamAddr addr{};\n    addr.fd = -1;\n    addr.tls = params.tls;\n\n"
     "    if (!params.verify_client_cacert.empty()) {\n"
     "      if (!params.tls || params.quic ||\n"
     "          params.alt_mode != UpstreamAltMode::NONE) {\n"
     "        LOG(ERROR) << \"frontend: verify-client requires tls and cannot be \"\n"
     "                      \"used with quic, api or healthmon\";\n"
     "        return -1;\n"
     "      }\n"
     "      addr.client_verify = tls::load_frontend_client_verify(\n"
     "          params.verify_client_cacert.str(), params.verify_client_optional);\n"
     "      if (!addr.client_verify) {\n"
     "        return -1;\n"
     "      }\n"
     "    }\n", 1),
])

patch("src/shrpx_tls.h", [
    ("struct UpstreamAddr;\n\nnamespace tls {\n",
     "struct UpstreamAddr;\nstruct FrontendClientVerify;\n\nnamespace tls {\n", 1),
    ("SSL *create_ssl(SSL_CTX *ssl_ctx);\n",
     "SSL *create_ssl(SSL_CTX *ssl_ctx);\n\n"
     "// Loads the PEM CA bundle |cafile| for verify-client=.  Returns\n"
     "// nullptr (and logs why) if it cannot be read or holds no certificate.\n"
     "std::shared_ptr<FrontendClientVerify>\n"
     "load_frontend_client_verify(const std::string &cafile, bool optional);\n", 1),
])

patch("src/shrpx_tls.cc", [
    ("#include <openssl/rand.h>\n",
     "#include <openssl/rand.h>\n#include <openssl/sha.h>\n", 1),
    ("#include <iomanip>\n", "#include <iomanip>\n#include <fstream>\n", 1),
    # After verify_callback: the per-frontend helpers used by accept and SNI.
    ("  return preverify_ok;\n}\n} // namespace\n",
     "  return preverify_ok;\n}\n} // namespace\n\n"
     "namespace {\n"
     "// verify-client-optional: a missing or unverifiable certificate is accepted.\n"
     "int verify_callback_optional(int preverify_ok, X509_STORE_CTX *ctx) {\n"
     "  if (!preverify_ok && LOG_ENABLED(INFO)) {\n"
     "    int err = X509_STORE_CTX_get_error(ctx);\n"
     "    LOG(INFO) << \"client certificate not verified, accepted \"\n"
     "                 \"(verify-client-optional):num=\"\n"
     "              << err << \":\" << X509_verify_cert_error_string(err);\n"
     "  }\n"
     "  return 1;\n"
     "}\n"
     "} // namespace\n\n"
     "namespace {\n"
     "// Applies verify-client= of |faddr| to |ssl|.  |ctx_switched| is true\n"
     "// after SSL_set_SSL_CTX(), which replaced the store and session id\n"
     "// context but kept the verify mode and the CA names.\n"
     "void apply_frontend_client_verify(SSL *ssl, const UpstreamAddr *faddr,\n"
     "                                  bool ctx_switched) {\n"
     "  if (!faddr || !faddr->client_verify) {\n"
     "    return;\n"
     "  }\n"
     "  auto &cv = *faddr->client_verify;\n"
     "  SSL_set1_verify_cert_store(ssl, cv.store);\n"
     "  SSL_set_session_id_context(ssl, cv.sid_ctx.data(), cv.sid_ctx.size());\n"
     "  if (ctx_switched) {\n"
     "    return;\n"
     "  }\n"
     "  if (cv.optional) {\n"
     "    SSL_set_verify(ssl, SSL_VERIFY_PEER, verify_callback_optional);\n"
     "  } else {\n"
     "    SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,\n"
     "                   verify_callback);\n"
     "  }\n"
     "  auto names = SSL_dup_CA_list(cv.ca_list);\n"
     "  if (names) {\n"
     "    SSL_set_client_CA_list(ssl, names);\n"
     "  }\n"
     "}\n"
     "} // namespace\n\n"
     "namespace {\n"
     "void switch_ssl_ctx(SSL *ssl, ClientHandler *handler, SSL_CTX *ctx) {\n"
     "  SSL_set_SSL_CTX(ssl, ctx);\n"
     "  apply_frontend_client_verify(ssl, handler->get_upstream_addr(), true);\n"
     "}\n"
     "} // namespace\n\n"
     "std::shared_ptr<FrontendClientVerify>\n"
     "load_frontend_client_verify(const std::string &cafile, bool optional) {\n"
     "  std::ifstream f(cafile, std::ios::binary);\n"
     "  std::string pem((std::istreambuf_iterator<char>(f)),\n"
     "                  std::istreambuf_iterator<char>());\n"
     "  if (!f.good() && !f.eof()) {\n"
     "    LOG(ERROR) << \"frontend: verify-client: could not read \" << cafile;\n"
     "    return nullptr;\n"
     "  }\n"
     "  auto cv = std::make_shared<FrontendClientVerify>();\n"
     "  cv->optional = optional;\n"
     "  cv->store = X509_STORE_new();\n"
     "  if (!cv->store ||\n"
     "      X509_STORE_load_locations(cv->store, cafile.c_str(), nullptr) != 1) {\n"
     "    LOG(ERROR) << \"frontend: verify-client: could not load CA certificates \"\n"
     "                  \"from \"\n"
     "               << cafile << \": \" << ERR_error_string(ERR_get_error(), nullptr);\n"
     "    return nullptr;\n"
     "  }\n"
     "  ERR_clear_error();\n"
     "  cv->ca_list = SSL_load_client_CA_file(cafile.c_str());\n"
     "  if (!cv->ca_list || sk_X509_NAME_num(cv->ca_list) == 0) {\n"
     "    LOG(ERROR) << \"frontend: verify-client: no CA certificate in \" << cafile;\n"
     "    return nullptr;\n"
     "  }\n"
     "  pem.insert(0, optional ? \"verify-client-optional\\n\" : \"verify-client\\n\");\n"
     "  SHA256(reinterpret_cast<const uint8_t *>(pem.data()), pem.size(),\n"
     "         cv->sid_ctx.data());\n"
     "  return cv;\n"
     "}\n", 1),
    # Re-apply after every SNI certificate switch (servername_callback).
    ("SSL_set_SSL_CTX(ssl, ssl_ctx_list[0]);", "switch_ssl_ctx(ssl, handler, ssl_ctx_list[0]);", 2),
    ("SSL_set_SSL_CTX(ssl, ssl_ctx);", "switch_ssl_ctx(ssl, handler, ssl_ctx);", 2),
    ("    ssl = create_ssl(ssl_ctx);\n    if (!ssl) {\n      return nullptr;\n    }\n",
     "    ssl = create_ssl(ssl_ctx);\n    if (!ssl) {\n      return nullptr;\n    }\n"
     "    apply_frontend_client_verify(ssl, faddr, false);\n", 1),
])

patch("src/shrpx.cc", [
    ("              \"healthmon\"  parameters  cannot   be  used  with  \"quic\"\n"
     "              parameter.\n",
     "              \"healthmon\"  parameters  cannot   be  used  with  \"quic\"\n"
     "              parameter.\n\n"
     "              To  verify client  certificates on  this frontend  only,\n"
     "              specify  \"verify-client=<CAFILE>\": a  certificate  is\n"
     "              requested   and   must   verify   against  the   PEM\n"
     "              bundle  <CAFILE>.   With  \"verify-client-optional\" a\n"
     "              missing or  unverifiable certificate is  accepted.  Not\n"
     "              with \"quic\", \"api\" or \"healthmon\".\n", 1),
])
