#include "services/plumbctl/cli.h"

#include "services/plumbctl/local_cluster.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/plumbctl/commands.h"
#include "services/plumbctl/report_command.h"

namespace plumb::plumbctl {
namespace {

constexpr char kDescription[] =
    "plumbctl: submit, list, watch and cancel Plumb alignment jobs on a coordinator "
    "(plumb.v1.Coordinator).";

constexpr char kFooter[] =
    "Connection settings, each from the first that sets it: the flag, the environment "
    "(PLUMB_ADDRESS, PLUMB_TLS_CA, PLUMB_TLS_CERT, PLUMB_TLS_KEY, PLUMB_TOKEN_FILE, "
    "PLUMB_TIMEOUT), the config file (--config, PLUMB_CONFIG, else "
    "$XDG_CONFIG_HOME/plumb/config.yaml or ~/.config/plumb/config.yaml; keys address, "
    "tls.ca_file, tls.cert_file, tls.key_file, token_file, timeout), the default "
    "(address 127.0.0.1:50060, timeout 30s).\n"
    "Exit status: 0 success (watch: the job SUCCEEDED); 1 an error, the gRPC code and message "
    "on stderr (watch: the job FAILED); 2 a usage or configuration error; 3 (watch) the job was "
    "CANCELLED.";

struct Parsed {
  ConnectionFlags connection;
  SubmitArgs submit;
  ListArgs list;
  WorkersArgs workers;
  std::string job_id;
  std::string report_out;
  std::string reason;
  bool json = false;
  uint64_t after = 0;
};

void PrintError(std::ostream& err, const absl::Status& status) {
  err << "plumbctl: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
      << "\n";
}

}  // namespace

int RunPlumbctl(int argc, const char* const* argv, const CliEnvironment& environment) {
  std::ostream& out = *environment.out;
  std::ostream& err = *environment.err;
  Parsed parsed;
  CLI::App app(kDescription, "plumbctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.fallthrough();  // connection flags may come after the subcommand too
  ConnectionFlags& flags = parsed.connection;
  app.add_option("--config", flags.config_file, "Config file (default: see below)");
  app.add_option("--address", flags.address, "Coordinator host:port (default 127.0.0.1:50060)");
  app.add_option("--tls-ca", flags.tls_ca, "PEM CA that signed the coordinator's certificate");
  app.add_option("--tls-cert", flags.tls_cert, "PEM client certificate (mutual TLS)");
  app.add_option("--tls-key", flags.tls_key, "PEM key of --tls-cert");
  app.add_flag("--tls", flags.tls, "Use TLS with the system's CAs when no --tls-ca is given");
  app.add_option("--token-file", flags.token_file,
                 "File holding a bearer token (sent as 'authorization: Bearer <token>')");
  app.add_flag("--insecure-token", flags.insecure_token,
               "Send the bearer token even without TLS (readable on the network)");
  app.add_option("--timeout", flags.timeout, "Deadline of each call, e.g. 30s (default 30s)");

  CLI::App* submit =
      app.add_subcommand("submit", "Submit a job spec (YAML or JSON); prints its id");
  submit->add_option("FILE", parsed.submit.file, "Job spec file")->required();
  submit->add_flag("--validate", parsed.submit.validate_only,
                   "Only validate the spec on the coordinator; prints \"valid\"");
  submit->add_option("--idempotency-key", parsed.submit.idempotency_key,
                     "Submitting twice with this key creates one job");

  CLI::App* list = app.add_subcommand("list", "List jobs, newest first");
  list->add_option("--state", parsed.list.states, "Only jobs in this state (repeatable)");
  list->add_option("--kind", parsed.list.kind, "Only jobs of this kind (ppo, grpo, dpo, ...)");
  list->add_option("--label", parsed.list.labels,
                   "Only jobs with this key=value label (repeatable)");
  list->add_option("--page-size", parsed.list.page_size, "Jobs per page (default 50, max 500)");
  list->add_option("--page-token", parsed.list.page_token, "Start at this page");
  list->add_flag("--all-pages", parsed.list.all_pages, "Follow page tokens to the last page");

  CLI::App* status = app.add_subcommand("status", "Show a job's status");
  status->add_option("JOB", parsed.job_id, "Job id")->required();
  status->add_flag("--json", parsed.json, "Print the job (spec and status) as protobuf JSON");

  CLI::App* watch = app.add_subcommand(
      "watch",
      "Follow a job to its end, one progress line per stage. Exits 0 when the job SUCCEEDED, "
      "1 FAILED, 3 CANCELLED; resumes after a broken stream (up to 10 tries)");
  watch->add_option("JOB", parsed.job_id, "Job id")->required();

  CLI::App* events = app.add_subcommand(
      "events", "Print a job's stored events, one per line (up to its latest event; no waiting)");
  events->add_option("JOB", parsed.job_id, "Job id")->required();
  events->add_option("--after", parsed.after, "Only events with a sequence above this");

  CLI::App* report = app.add_subcommand(
      "report",
      "What a job did: per stage its figures; the judge's held-out score before and after with "
      "95% intervals, unique responses, length, distinct-2, KL and samples; report.json, "
      "steps.tsv and a plot (report.svg, by gnuplot) in --out");
  report->add_option("JOB", parsed.job_id, "Job id")->required();
  report->add_option("--out", parsed.report_out,
                     "Folder for the files (default plumb-report-<job id>)");

  CLI::App* cancel = app.add_subcommand("cancel", "Cancel a job");
  cancel->add_option("JOB", parsed.job_id, "Job id")->required();
  cancel->add_option("--reason", parsed.reason, "Recorded in the job's events");

  CLI::App* workers = app.add_subcommand("workers", "List the coordinator's workers");
  workers->add_option("--role", parsed.workers.roles,
                      "Only this role: generator, scorer, reference, learner (repeatable)");
  workers->add_flag("--include-lost", parsed.workers.include_lost, "Include LOST workers");

  CLI::App* local = app.add_subcommand(
      "local", "A whole cluster on this machine from configs/local: up, down, status");
  local->require_subcommand(1);
  LocalClusterOptions local_options;
  local_options.config_dir = "configs/local";
  local_options.run_dir = ".plumb/local";
  std::string local_timeout = "120s";
  for (CLI::App* sub : {local->add_subcommand("up",
                                              "Start every service (and a tiny model) and "
                                              "wait until each is SERVING"),
                        local->add_subcommand("down", "Stop every service"),
                        local->add_subcommand("status",
                                              "Each service's pid, address and health "
                                              "(exit 1 when one is not serving)")}) {
    sub->add_option("--config-dir", local_options.config_dir,
                    "The config templates (default configs/local)");
    sub->add_option("--run-dir", local_options.run_dir,
                    "Configs, logs, pids, models and state (default .plumb/local)");
    sub->add_option("--bin-dir", local_options.bin_dir,
                    "Where the plumb-* binaries are (default: beside plumbctl)");
    sub->add_option("--base-port", local_options.base_port,
                    "Services on base+1..base+4, the coordinator on base+10 (default 50050)")
        ->check(CLI::Range(1024, 65000));
    sub->add_option("--wait", local_timeout, "How long up waits for each service (default 120s)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error, out, err);  // --help
    err << "plumbctl: " << error.what() << " (see `plumbctl --help`)\n";
    return kExitUsage;
  }

  if (local->parsed()) {  // no coordinator connection: it may not run yet
    if (!absl::ParseDuration(local_timeout, &local_options.timeout)) {
      err << "plumbctl: --wait: not a duration (e.g. 120s): " << local_timeout << "\n";
      return kExitUsage;
    }
    absl::Status result;
    if (local->get_subcommand("up")->parsed()) {
      result = LocalUp(local_options, out);
    } else if (local->get_subcommand("down")->parsed()) {
      result = LocalDown(local_options, out);
    } else {
      result = LocalStatus(local_options, out);
    }
    out.flush();
    if (!result.ok()) {
      PrintError(err, result);
      return kExitFailed;
    }
    return kExitSucceeded;
  }

  absl::StatusOr<ConnectionSettings> settings =
      ResolveConnectionSettings(parsed.connection, environment.env);
  absl::StatusOr<rpc::ChannelOptions> options =
      settings.ok() ? ToChannelOptions(*settings)
                    : absl::StatusOr<rpc::ChannelOptions>(settings.status());
  if (options.ok()) options->retry = environment.retry;
  absl::StatusOr<Connection> connection =
      options.ok() ? Connect(*options) : absl::StatusOr<Connection>(options.status());
  if (!connection.ok()) {
    PrintError(err, connection.status());
    return kExitUsage;
  }

  absl::Status result;
  if (submit->parsed()) {
    result = RunSubmit(*connection, parsed.submit, out, err);
  } else if (list->parsed()) {
    result = RunList(*connection, parsed.list, environment.now(), out, err);
  } else if (status->parsed()) {
    result = RunStatus(*connection, parsed.job_id, parsed.json, out);
  } else if (watch->parsed()) {
    WatchOptions watch_options{.terminal = environment.out_is_terminal,
                               .initial_backoff = environment.watch_initial_backoff};
    absl::StatusOr<int> code = RunWatch(*connection, parsed.job_id, watch_options, out, err);
    if (code.ok()) return *code;
    result = code.status();
  } else if (events->parsed()) {
    result = RunEvents(*connection, parsed.job_id, parsed.after, out);
  } else if (report->parsed()) {
    result =
        RunReport(*connection, {.job_id = parsed.job_id, .out_dir = parsed.report_out}, out, err);
  } else if (cancel->parsed()) {
    result = RunCancel(*connection, parsed.job_id, parsed.reason, out);
  } else if (workers->parsed()) {
    result = RunWorkers(*connection, parsed.workers, environment.now(), out);
  }
  out.flush();
  if (!result.ok()) {
    PrintError(err, result);
    return kExitFailed;
  }
  return kExitSucceeded;
}

}  // namespace plumb::plumbctl
