/*  wobctl.h - what the wobctl command files share: the command context
    and the way they talk to the broker and report failures.             */

#ifndef WOBCTL_H_INCLUDED
#define WOBCTL_H_INCLUDED

#include "wob.h"

typedef struct {
    const char *endpoint;       //  broker endpoint
    bool json;                  //  --json output
    int timeout_ms;             //  per request
    wob_client_t *client;       //  connected on first use
} ctl_t;

//  Prints "wobctl: err" and returns the exit code for rc.
int ctl_fail (int rc, const char *err);
//  Sends a request with body (a oneof member) and returns the reply, or
//  NULL after printing the error; *exit_p is the exit code then.
Wob__Envelope *ctl_request (ctl_t *ctl, Wob__Envelope__BodyCase body_case, void *body,
                            int *exit_p);

//  Administration commands (tools/wobctl_admin.c)
int ctl_suppress (ctl_t *ctl, int argc, char **argv);
int ctl_rules (ctl_t *ctl, int argc, char **argv);
int ctl_clock (ctl_t *ctl, int argc, char **argv);
//  backup DIR: the broker copies its store there (admin)
int ctl_backup (ctl_t *ctl, int argc, char **argv);
//  report --wave W | --campaign C [--by D] (tools/wobctl_report.c)
int ctl_report (ctl_t *ctl, int argc, char **argv);
//  outcome import --wave W FILE.csv (tools/wobctl_report.c)
int ctl_outcome (ctl_t *ctl, int argc, char **argv);
//  pause | resume | cancel WAVE
int ctl_wave_control (ctl_t *ctl, int argc, char **argv);

#endif
