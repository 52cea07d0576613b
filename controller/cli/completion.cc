#include "controller/cli/completion.h"

#include <algorithm>
#include <vector>

namespace vmrelease::cli {
namespace {

// The flags of one (sub)command as typed: "--image", "-o", ...
std::vector<std::string> Flags(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
    for (const std::string& s : o->get_snames()) out.push_back("-" + s);
  }
  return out;
}

// Space separated, each word once.
std::string Words(const std::vector<std::string>& words) {
  std::string out;
  std::vector<std::string> seen;
  for (const std::string& w : words) {
    if (std::find(seen.begin(), seen.end(), w) != seen.end()) continue;
    seen.push_back(w);
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

std::vector<std::string> Both(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<const CLI::App*> Commands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

std::string FunctionName(const std::string& program) {
  std::string f = "_" + program;
  for (char& c : f)
    if (c == '-') c = '_';
  return f;
}

}  // namespace

std::string BashCompletion(const CLI::App& app, const std::string& program) {
  const std::string fn = FunctionName(program);
  std::vector<std::string> names;
  for (const CLI::App* c : Commands(app)) names.push_back(c->get_name());
  const std::string globals = Words(Flags(app));
  std::string s, alternatives;
  for (const std::string& n : names) alternatives += (alternatives.empty() ? "" : "|") + n;
  s += "# bash completion for " + program + "; load with: source <(" + program +
       " completion bash)\n";
  s += fn + "() {\n";
  s += "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\" i\n";
  s += "  (( COMP_CWORD > 0 )) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n";
  s += "  for (( i = 1; i < COMP_CWORD; i++ )); do\n";
  s += "    case \"${COMP_WORDS[i]}\" in " + alternatives +
       ") cmd=\"${COMP_WORDS[i]}\"; break ;; esac\n";
  s += "  done\n";
  s += "  case \"$prev\" in\n";
  s += "    -o|--output) COMPREPLY=($(compgen -W \"table json yaml\" -- \"$cur\")); return ;;\n";
  s += "    --kubeconfig|--gitops) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n";
  s += "    completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")); return ;;\n";
  s += "  esac\n";
  s += "  case \"$cmd\" in\n";
  s += "    \"\") COMPREPLY=($(compgen -W \"" + Words(names) + " " + globals +
       "\" -- \"$cur\")) ;;\n";
  for (const CLI::App* c : Commands(app)) {
    std::string line = "    " + c->get_name() + ") ";
    if (c->get_name() == "verify")
      line += "if [[ \"$cur\" != -* ]]; then COMPREPLY=($(compgen -d -- \"$cur\")); return; fi; ";
    line +=
        "COMPREPLY=($(compgen -W \"" + Words(Both(Flags(*c), Flags(app))) + "\" -- \"$cur\")) ;;\n";
    s += line;
  }
  s += "  esac\n";
  s += "}\n";
  s += "complete -o default -F " + fn + " " + program + "\n";
  return s;
}

std::string ZshCompletion(const CLI::App& app, const std::string& program) {
  const std::string fn = FunctionName(program);
  auto quote = [](const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '\'')
        out += "'\\''";
      else if (c == ':')
        out += "\\:";
      else
        out += c;
    }
    return out;
  };
  std::string alternatives;
  for (const CLI::App* c : Commands(app))
    alternatives += (alternatives.empty() ? "" : "|") + c->get_name();
  std::string s = "#compdef " + program + "\n";
  s += "# zsh completion for " + program + "; load with: source <(" + program +
       " completion zsh), or save it as _" + program + " in a directory of $fpath\n";
  s += fn + "() {\n";
  s += "  local -a commands\n";
  s += "  commands=(\n";
  for (const CLI::App* c : Commands(app)) {
    std::string d = c->get_description();
    if (d.size() > 70) d = d.substr(0, 67) + "...";
    s += "    '" + c->get_name() + ":" + quote(d) + "'\n";
  }
  s += "  )\n";
  s += "  local cmd=\"\" w\n";
  s += "  for w in \"${(@)words[2,CURRENT-1]}\"; do\n";
  s += "    case $w in (" + alternatives + ") cmd=$w; break ;; esac\n";
  s += "  done\n";
  s += "  case ${words[CURRENT-1]} in\n";
  s += "    (-o|--output) compadd table json yaml; return ;;\n";
  s += "    (--kubeconfig|--gitops) _files; return ;;\n";
  s += "    (completion) compadd bash zsh; return ;;\n";
  s += "  esac\n";
  s += "  if [[ -z $cmd ]]; then\n";
  s += "    _describe -t commands command commands\n";
  s += "    compadd -- " + Words(Flags(app)) + "\n";
  s += "    return\n";
  s += "  fi\n";
  s += "  case $cmd in\n";
  for (const CLI::App* c : Commands(app)) {
    s += "    (" + c->get_name() + ") ";
    if (c->get_name() == "verify") s += "[[ $PREFIX != -* ]] && { _files -/; return } ; ";
    s += "compadd -- " + Words(Both(Flags(*c), Flags(app))) + " ;;\n";
  }
  s += "  esac\n";
  s += "}\n";
  s += "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n";
  s += "  " + fn + " \"$@\"\n";
  s += "else\n";
  s += "  compdef " + fn + " " + program + "\n";
  s += "fi\n";
  return s;
}

std::string CobraComplete(const CLI::App& app, const std::vector<std::string>& args) {
  constexpr int kNoFileComp = 4, kFilterDirs = 16, kDefault = 0;
  const std::string cur = args.empty() ? "" : args.back();
  const std::string prev = args.size() >= 2 ? args[args.size() - 2] : "";
  const CLI::App* cmd = nullptr;
  for (size_t i = 0; i + 1 < args.size() && !cmd; ++i)
    for (const CLI::App* c : Commands(app))
      if (c->get_name() == args[i]) cmd = c;
  std::vector<std::string> candidates;
  int directive = kNoFileComp;
  if (prev == "-o" || prev == "--output") {
    candidates = {"table", "json", "yaml"};
  } else if (prev == "--kubeconfig" || prev == "--gitops") {
    directive = kDefault;
  } else if (cmd && cmd->get_name() == "completion") {
    candidates = {"bash", "zsh"};
  } else if (!cmd) {
    for (const CLI::App* c : Commands(app)) candidates.push_back(c->get_name());
    if (cur.rfind('-', 0) == 0) candidates = Flags(app);
  } else if (cmd->get_name() == "verify" && cur.rfind('-', 0) != 0) {
    directive = kFilterDirs;
  } else {
    candidates = Both(Flags(*cmd), Flags(app));
  }
  std::string out;
  std::vector<std::string> seen;
  for (const std::string& c : candidates) {
    if (c.rfind(cur, 0) != 0 || std::find(seen.begin(), seen.end(), c) != seen.end()) continue;
    seen.push_back(c);
    out += c + "\n";
  }
  return out + ":" + std::to_string(directive) + "\n";
}

}  // namespace vmrelease::cli
