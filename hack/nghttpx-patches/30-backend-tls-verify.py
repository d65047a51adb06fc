# Per-backend certificate verification (BackendTLSPolicy).
# Upstream verifies every TLS backend against one process-wide trust store (--cacert
# plus the system store) and the backend's SNI name, so one Gateway could not trust a
# different CA per Service, nor check subject alternative names instead of the name.
#
#   backend=<HOST>,<PORT>;<PATTERN>;tls;sni=<NAME>[;tls-ca=<CAFILE>][;tls-san=<SANFILE>]
#
# tls-ca=<CAFILE>: verify this backend's certificate chain against the PEM bundle
#   CAFILE only (instead of the process-wide store). Loaded once when the line is
#   parsed; a missing file or one without a certificate fails the configuration.
# tls-san=<SANFILE>: one name per line, "dns:<hostname>" or "uri:<uri>". The
#   certificate must carry at least one matching subjectAltName (DNS names with the
#   usual wildcard rules, URIs exactly); this replaces the check against the SNI name.
# Both need tls. Backends without them behave exactly as before. Lines that differ
# only in these files are not merged into one shared backend (connection pools and
# TLS session caches stay apart).
#
# Anchors avoid the lines 20-frontend-client-verify.py changes, so either applies
# with or without the other.

patch("src/shrpx_config.h", [
    ("  // hostname sent as SNI field\n  StringRef sni;\n  // name of group which this address belongs to.\n",
     "  // hostname sent as SNI field\n  StringRef sni;\n"
     "  // tls-ca=: trust anchors of this backend only (file and loaded store).\n"
     "  StringRef tls_ca_file;\n"
     "  std::shared_ptr<X509_STORE> tls_ca_store;\n"
     "  // tls-san=: accepted subjectAltNames, \"dns:...\" or \"uri:...\".\n"
     "  StringRef tls_san_file;\n"
     "  std::shared_ptr<const std::vector<std::string>> tls_san;\n"
     "  // name of group which this address belongs to.\n", 1),
])

patch("src/shrpx_config.cc", [
    ("struct DownstreamParams {\n  StringRef sni;\n",
     "struct DownstreamParams {\n  StringRef sni;\n  StringRef tls_ca;\n  StringRef tls_san;\n", 1),
    ("    } else if (util::istarts_with_l(param, \"sni=\")) {\n"
     "      out.sni = StringRef{first + str_size(\"sni=\"), end};\n",
     "    } else if (util::istarts_with_l(param, \"sni=\")) {\n"
     "      out.sni = StringRef{first + str_size(\"sni=\"), end};\n"
     "    } else if (util::istarts_with_l(param, \"tls-ca=\")) {\n"
     "      out.tls_ca = StringRef{first + str_size(\"tls-ca=\"), end};\n"
     "      if (out.tls_ca.empty()) {\n"
     "        LOG(ERROR) << \"backend: tls-ca: file name is empty\";\n"
     "        return -1;\n"
     "      }\n"
     "    } else if (util::istarts_with_l(param, \"tls-san=\")) {\n"
     "      out.tls_san = StringRef{first + str_size(\"tls-san=\"), end};\n"
     "      if (out.tls_san.empty()) {\n"
     "        LOG(ERROR) << \"backend: tls-san: file name is empty\";\n"
     "        return -1;\n"
     "      }\n", 1),
    ("  addr.sni = make_string_ref(downstreamconf.balloc, params.sni);\n",
     "  addr.sni = make_string_ref(downstreamconf.balloc, params.sni);\n"
     "  if ((!params.tls_ca.empty() || !params.tls_san.empty()) && !params.tls) {\n"
     "    LOG(ERROR) << \"backend: tls-ca and tls-san require tls\";\n"
     "    return -1;\n"
     "  }\n"
     "  if (!params.tls_ca.empty()) {\n"
     "    addr.tls_ca_file = make_string_ref(downstreamconf.balloc, params.tls_ca);\n"
     "    addr.tls_ca_store = tls::load_backend_ca_store(addr.tls_ca_file);\n"
     "    if (!addr.tls_ca_store) {\n"
     "      return -1;\n"
     "    }\n"
     "  }\n"
     "  if (!params.tls_san.empty()) {\n"
     "    addr.tls_san_file = make_string_ref(downstreamconf.balloc, params.tls_san);\n"
     "    addr.tls_san = tls::load_backend_san_list(addr.tls_san_file);\n"
     "    if (!addr.tls_san) {\n"
     "      return -1;\n"
     "    }\n"
     "  }\n", 1),
])

patch("src/shrpx_worker.h", [
    ("  // sni field to send remote server if TLS is enabled.\n  StringRef sni;\n",
     "  // sni field to send remote server if TLS is enabled.\n  StringRef sni;\n"
     "  // tls-ca= and tls-san= (see DownstreamAddrConfig).\n"
     "  StringRef tls_ca_file;\n"
     "  std::shared_ptr<X509_STORE> tls_ca_store;\n"
     "  StringRef tls_san_file;\n"
     "  std::shared_ptr<const std::vector<std::string>> tls_san;\n", 1),
])

patch("src/shrpx_worker.cc", [
    ("                   uint32_t, uint32_t, uint32_t, bool, bool, bool, bool>>,\n",
     "                   uint32_t, uint32_t, uint32_t, bool, bool, bool, bool,\n"
     "                   StringRef, StringRef>>,\n", 1),
    ("    std::get<12>(*p) = a.upgrade_scheme;\n",
     "    std::get<12>(*p) = a.upgrade_scheme;\n"
     "    std::get<13>(*p) = a.tls_ca_file;\n"
     "    std::get<14>(*p) = a.tls_san_file;\n", 1),
    ("      dst_addr.sni = make_string_ref(shared_addr->balloc, src_addr.sni);\n",
     "      dst_addr.sni = make_string_ref(shared_addr->balloc, src_addr.sni);\n"
     "      dst_addr.tls_ca_file =\n"
     "          make_string_ref(shared_addr->balloc, src_addr.tls_ca_file);\n"
     "      dst_addr.tls_ca_store = src_addr.tls_ca_store;\n"
     "      dst_addr.tls_san_file =\n"
     "          make_string_ref(shared_addr->balloc, src_addr.tls_san_file);\n"
     "      dst_addr.tls_san = src_addr.tls_san;\n", 1),
])

patch("src/shrpx_tls.h", [
    ("int check_cert(SSL *ssl, const DownstreamAddr *addr, const Address *raddr);\n",
     "int check_cert(SSL *ssl, const DownstreamAddr *addr, const Address *raddr);\n\n"
     "// Loads the PEM bundle |cafile| for backend tls-ca=.  Returns nullptr\n"
     "// (and logs why) when it cannot be read or holds no certificate.\n"
     "std::shared_ptr<X509_STORE> load_backend_ca_store(const StringRef &cafile);\n\n"
     "// Loads the backend tls-san= file: lines \"dns:<name>\" or \"uri:<uri>\".\n"
     "// Returns nullptr (and logs why) when unreadable, empty or malformed.\n"
     "std::shared_ptr<const std::vector<std::string>>\n"
     "load_backend_san_list(const StringRef &file);\n\n"
     "// Makes |ssl| verify the backend |addr| against its tls-ca= store, if any.\n"
     "void setup_downstream_verify(SSL *ssl, const DownstreamAddr *addr);\n", 1),
])

patch("src/shrpx_tls.cc", [
    ("int check_cert(SSL *ssl, const DownstreamAddr *addr, const Address *raddr) {\n",
     "std::shared_ptr<X509_STORE> load_backend_ca_store(const StringRef &cafile) {\n"
     "  auto store = X509_STORE_new();\n"
     "  if (!store) {\n"
     "    LOG(ERROR) << \"backend: tls-ca: X509_STORE_new failed\";\n"
     "    return nullptr;\n"
     "  }\n"
     "  auto res = std::shared_ptr<X509_STORE>(store, X509_STORE_free);\n"
     "  if (X509_STORE_load_locations(store, cafile.c_str(), nullptr) != 1) {\n"
     "    LOG(ERROR) << \"backend: tls-ca: could not load CA certificates from \"\n"
     "               << cafile << \": \"\n"
     "               << ERR_error_string(ERR_get_error(), nullptr);\n"
     "    ERR_clear_error();\n"
     "    return nullptr;\n"
     "  }\n"
     "  return res;\n"
     "}\n\n"
     "std::shared_ptr<const std::vector<std::string>>\n"
     "load_backend_san_list(const StringRef &file) {\n"
     "  auto bio = BIO_new_file(file.c_str(), \"r\");\n"
     "  if (!bio) {\n"
     "    LOG(ERROR) << \"backend: tls-san: could not open \" << file;\n"
     "    ERR_clear_error();\n"
     "    return nullptr;\n"
     "  }\n"
     "  auto bio_deleter = defer(BIO_free, bio);\n"
     "  auto sans = std::make_shared<std::vector<std::string>>();\n"
     "  char buf[4096];\n"
     "  for (;;) {\n"
     "    auto n = BIO_gets(bio, buf, sizeof(buf));\n"
     "    if (n <= 0) {\n"
     "      break;\n"
     "    }\n"
     "    auto line = std::string(buf, n);\n"
     "    if (line.back() != '\\n' && n == static_cast<int>(sizeof(buf)) - 1) {\n"
     "      LOG(ERROR) << \"backend: tls-san: line too long in \" << file;\n"
     "      return nullptr;\n"
     "    }\n"
     "    while (!line.empty() && (line.back() == '\\n' || line.back() == '\\r')) {\n"
     "      line.pop_back();\n"
     "    }\n"
     "    if (line.empty()) {\n"
     "      continue;\n"
     "    }\n"
     "    if (line.size() < 5 ||\n"
     "        (!util::starts_with(line, StringRef::from_lit(\"dns:\")) &&\n"
     "         !util::starts_with(line, StringRef::from_lit(\"uri:\")))) {\n"
     "      LOG(ERROR) << \"backend: tls-san: bad line in \" << file\n"
     "                 << \": want dns:<name> or uri:<uri>\";\n"
     "      return nullptr;\n"
     "    }\n"
     "    sans->push_back(std::move(line));\n"
     "  }\n"
     "  if (sans->empty()) {\n"
     "    LOG(ERROR) << \"backend: tls-san: no name in \" << file;\n"
     "    return nullptr;\n"
     "  }\n"
     "  return sans;\n"
     "}\n\n"
     "void setup_downstream_verify(SSL *ssl, const DownstreamAddr *addr) {\n"
     "  if (addr->tls_ca_store) {\n"
     "    SSL_set1_verify_cert_store(ssl, addr->tls_ca_store.get());\n"
     "  }\n"
     "}\n\n"
     "namespace {\n"
     "// Returns 0 if |cert| has a subjectAltName listed in |sans| (tls-san=).\n"
     "int verify_backend_san(X509 *cert, const std::vector<std::string> &sans) {\n"
     "  auto altnames = static_cast<GENERAL_NAMES *>(\n"
     "      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));\n"
     "  if (!altnames) {\n"
     "    return -1;\n"
     "  }\n"
     "  auto altnames_deleter = defer(GENERAL_NAMES_free, altnames);\n"
     "  size_t n = sk_GENERAL_NAME_num(altnames);\n"
     "  for (size_t i = 0; i < n; ++i) {\n"
     "    auto altname = sk_GENERAL_NAME_value(altnames, i);\n"
     "    StringRef prefix;\n"
     "    if (altname->type == GEN_DNS) {\n"
     "      prefix = StringRef::from_lit(\"dns:\");\n"
     "    } else if (altname->type == GEN_URI) {\n"
     "      prefix = StringRef::from_lit(\"uri:\");\n"
     "    } else {\n"
     "      continue;\n"
     "    }\n"
     "    auto name = ASN1_STRING_get0_data(altname->d.ia5);\n"
     "    if (!name) {\n"
     "      continue;\n"
     "    }\n"
     "    size_t len = ASN1_STRING_length(altname->d.ia5);\n"
     "    if (len == 0 || std::find(name, name + len, '\\0') != name + len) {\n"
     "      continue;\n"
     "    }\n"
     "    if (altname->type == GEN_DNS && name[len - 1] == '.') {\n"
     "      if (--len == 0) {\n"
     "        continue;\n"
     "      }\n"
     "    }\n"
     "    auto got = StringRef{name, len};\n"
     "    for (auto &s : sans) {\n"
     "      if (!util::starts_with(s, prefix)) {\n"
     "        continue;\n"
     "      }\n"
     "      auto want = StringRef{s.c_str() + prefix.size(), s.size() - prefix.size()};\n"
     "      if (altname->type == GEN_DNS ? tls_hostname_match(got, want)\n"
     "                                   : got == want) {\n"
     "        return 0;\n"
     "      }\n"
     "    }\n"
     "  }\n"
     "  return -1;\n"
     "}\n"
     "} // namespace\n\n"
     "int check_cert(SSL *ssl, const DownstreamAddr *addr, const Address *raddr) {\n"
     "  if (addr->tls_san) {\n"
     "#if OPENSSL_3_0_0_API\n"
     "    auto cert = SSL_get0_peer_certificate(ssl);\n"
     "#else  // !OPENSSL_3_0_0_API\n"
     "    auto cert = SSL_get_peer_certificate(ssl);\n"
     "#endif // !OPENSSL_3_0_0_API\n"
     "    if (!cert) {\n"
     "      LOG(ERROR) << \"Certificate verification failed: no certificate\";\n"
     "      return -1;\n"
     "    }\n"
     "#if !OPENSSL_3_0_0_API\n"
     "    auto cert_deleter = defer(X509_free, cert);\n"
     "#endif // !OPENSSL_3_0_0_API\n"
     "    if (verify_backend_san(cert, *addr->tls_san) != 0) {\n"
     "      LOG(ERROR) << \"Certificate verification failed: no subjectAltName \"\n"
     "                    \"matches tls-san\";\n"
     "      return -1;\n"
     "    }\n"
     "    return 0;\n"
     "  }\n", 1),
])

# A failed certificate check (host name, tls-san=) must answer 502 like a failed
# handshake. Upstream returns -1 there: when the handshake completes in the read
# callback that becomes a 502, but when it completes in the write callback (the
# server's flight was already readable) HttpsUpstream::downstream_write passes -1
# on and the client connection is dropped without a response. SHRPX_ERR_NETWORK
# takes the downstream_error path (502) from both callbacks.
patch("src/shrpx_http_downstream_connection.cc", [
    ("      conn_.set_ssl(ssl);\n      conn_.tls.client_session_cache = &addr_->tls_session_cache;\n",
     "      conn_.set_ssl(ssl);\n      conn_.tls.client_session_cache = &addr_->tls_session_cache;\n"
     "      tls::setup_downstream_verify(conn_.tls.ssl, addr_);\n", 1),
    ("      tls::check_cert(conn_.tls.ssl, addr_, raddr_) != 0) {\n"
     "    downstream_failure(addr_, raddr_);\n\n    return -1;\n",
     "      tls::check_cert(conn_.tls.ssl, addr_, raddr_) != 0) {\n"
     "    downstream_failure(addr_, raddr_);\n\n"
     "    // Not -1: from the write callback that drops the client without a 502.\n"
     "    return SHRPX_ERR_NETWORK;\n", 1),
])

patch("src/shrpx_http2_session.cc", [
    ("        conn_.set_ssl(ssl);\n        conn_.tls.client_session_cache = &addr_->tls_session_cache;\n",
     "        conn_.set_ssl(ssl);\n        conn_.tls.client_session_cache = &addr_->tls_session_cache;\n"
     "        tls::setup_downstream_verify(conn_.tls.ssl, addr_);\n", 1),
])

patch("src/shrpx_live_check.cc", [
    ("    conn_.set_ssl(ssl);\n    conn_.tls.client_session_cache = &addr_->tls_session_cache;\n",
     "    conn_.set_ssl(ssl);\n    conn_.tls.client_session_cache = &addr_->tls_session_cache;\n"
     "    tls::setup_downstream_verify(conn_.tls.ssl, addr_);\n", 1),
])

patch("src/shrpx.cc", [
    ("              default to the backend <HOST> name\n",
     "              default to the backend <HOST> name\n\n"
     "              \"tls-ca=<CAFILE>\" verifies  this backend's certificate\n"
     "              against the PEM bundle <CAFILE> only.  \"tls-san=<FILE>\"\n"
     "              lists   accepted   subjectAltNames   (\"dns:<name>\"   or\n"
     "              \"uri:<uri>\"   per  line),   which   replace   the  check\n"
     "              against the SNI name.  Both need \"tls\".\n", 1),
])
