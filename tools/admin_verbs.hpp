// tools/admin_verbs.hpp: the `syncline` verbs an operator scripts against a running node:
// status, pause, resume, sync, users, tokens, login. Each one is a few calls of the API with the
// operator's token, prints a line for people or the node's JSON (`--json`), and exits with a
// code of tools/api_session.hpp's `exit_code`.
#pragma once

#include <cstdint>
#include <string>

namespace syncline::tools {

/// What every verb is given: where the node is, where the token is, how to print.
struct verb_context {
  std::string url;
  std::string token_file;
  bool json = false;
};

int verb_status(const verb_context& c);
/// `pause`/`resume` of `node`, `volume ID`, `datasource ID` or `transfer VOLUME/N`.
int verb_pause(const verb_context& c, bool pause, const std::string& kind, const std::string& id);
/// `sync` of `node`, `volume ID` or `datasource ID`.
int verb_sync(const verb_context& c, const std::string& kind, const std::string& id);

/// `users add NAME --class C`, `users passwd NAME`, `users del NAME`: the password is the first
/// line of `password_file` (`-`: standard input; empty: asked on the terminal, not echoed).
int verb_user_add(const verb_context& c, const std::string& name, const std::string& cls,
                  const std::string& password_file);
int verb_user_passwd(const verb_context& c, const std::string& name,
                     const std::string& password_file);
int verb_user_del(const verb_context& c, const std::string& name);
/// `tokens create [--expires 1d]`: another token of the caller, printed.
int verb_token_create(const verb_context& c, const std::string& expires);
/// `login --user NAME`: signs in and writes the token to the token file (mode 0600).
int verb_login(const verb_context& c, const std::string& user, const std::string& password_file,
               const std::string& expires);

}  // namespace syncline::tools
