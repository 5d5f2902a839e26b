// brandcoach cli: the `brandcoach` command and its subcommands.
//
//   brandcoach [--config FILE] [--data-dir DIR] [--set section.key=value]...
//     serve [--host H] [--port P]     run the HTTP server
//     chat [--user U] [--json] [--new-session]  talk to the coach in the terminal (or piped stdin)
//     memory import|search|facts|export|erase --user U   the user's memory
//     kb ingest --store S PATH...     add markdown/text files and folders to a knowledge store
//     config show                     print the effective configuration, secrets masked
//     version                         print the version
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.
#pragma once

namespace brandcoach::cli {

/// Runs the command line; returns the process exit code.
int run(int argc, char** argv);

}  // namespace brandcoach::cli
