/*  auth.c - who may talk to the broker, and what each may ask (SPEC §8).

    With CurveZMQ on, every connection is encrypted and its client key must
    be listed in the keys file, with a role:

        # role       name       public key (Z85, 40 characters)            channel
        campaign     crm-1      Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID
        worker       sms-gw-1   ...                                        sms
        supervisor   noc        ...
        admin        ops        ...

      campaign    submits waves; pauses, resumes and cancels its own waves;
                  reads status
      worker      says hello for its channel only (so takes and reports
                  orders of that channel only); reads status
      supervisor  reads: status, workers, reports, rules, suppression list
      admin       everything: rules, suppression list, any wave, the clock

    The broker answers ZeroMQ's authentication requests itself (ZAP, RFC 27,
    on inproc://zeromq.zap.01, polled in the actor's loop): an unknown key
    is refused during the handshake and never gets a message through.  The
    ZAP reply's user id is the key's name; each message carries it
    ("User-Id"), and auth_peer turns it back into the role.

    Without CurveZMQ (--plain, which must be asked for explicitly) nobody is
    checked; the broker warns at start-up.                              */

#include "broker.h"
#include <errno.h>
#include <ctype.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

struct _auth_t {
    zcert_t *cert;              //  the broker's own key pair
    zhashx_t *by_key;           //  Z85 public key -> auth_peer_t (owned)
    zhashx_t *by_name;          //  name -> auth_peer_t
    zsock_t *zap;               //  ZAP handler (REP)
};

static const struct {
    const char *name;
    int role;
} s_roles [] = {
    { "campaign", AUTH_CAMPAIGN }, { "worker", AUTH_WORKER },
    { "supervisor", AUTH_SUPERVISOR }, { "admin", AUTH_ADMIN }
};

const char *
auth_role_name (int role)
{
    for (size_t i = 0; i < sizeof (s_roles) / sizeof (s_roles [0]); i++)
        if (s_roles [i].role == role)
            return s_roles [i].name;
    return "none";
}

static void
s_peer_destroy (void **item_p)
{
    auth_peer_t *peer = *item_p;
    if (peer) {
        free (peer->name);
        free (peer->channel);
        free (peer);
        *item_p = NULL;
    }
}

//  Reads the keys file; err names the line and what is wrong with it.
static int
s_load_keys (auth_t *self, const char *path, char *err)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return wob_fail (err, WOB_ERR_IO, "keys file %s: %s", path, strerror (errno));
    char line [1024];
    int number = 0, rc = 0;
    while (!rc && fgets (line, sizeof (line), file)) {
        number++;
        //  A comment starts with # at the start or after a blank (Z85
        //  keys may hold a # themselves)
        for (char *hash = strchr (line, '#'); hash; hash = strchr (hash + 1, '#'))
            if (hash == line || isspace ((unsigned char) hash [-1])) {
                *hash = 0;
                break;
            }
        char role [32], name [80], key [80], channel [40], extra [8];
        int fields = sscanf (line, "%31s %79s %79s %39s %7s", role, name, key, channel, extra);
        if (fields <= 0)
            continue;           //  blank or comment
        int which = -1;
        for (size_t i = 0; i < sizeof (s_roles) / sizeof (s_roles [0]); i++)
            if (streq (role, s_roles [i].name))
                which = (int) i;
        uint8_t binary [32];
        if (which < 0)
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: role '%s' is not campaign, worker, "
                           "supervisor or admin", path, number, role);
        else
        if (fields < 3)
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: expected ROLE NAME PUBLIC-KEY "
                           "[CHANNEL]", path, number);
        else
        if (strlen (key) != 40 || !zmq_z85_decode (binary, key))
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: '%.48s' is not a public key (40 "
                           "characters of Z85, as wobctl keygen prints)", path, number, key);
        else
        if (s_roles [which].role == AUTH_WORKER && fields < 4)
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: a worker key names its channel "
                           "(worker NAME KEY sms)", path, number);
        else
        if (s_roles [which].role != AUTH_WORKER && fields > 3)
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: only worker keys name a channel",
                           path, number);
        else
        if (fields > 4)
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: unexpected '%s' after the channel",
                           path, number, extra);
        else
        if (zhashx_lookup (self->by_key, key))
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: key of '%s' is listed twice", path,
                           number, name);
        else
        if (zhashx_lookup (self->by_name, name))
            rc = wob_fail (err, WOB_ERR_INVALID, "%s:%d: name '%s' is listed twice", path,
                           number, name);
        else {
            auth_peer_t *peer = calloc (1, sizeof (auth_peer_t));
            peer->name = strdup (name);
            peer->role = s_roles [which].role;
            peer->channel = strdup (fields == 4? channel: "");
            zhashx_insert (self->by_key, key, peer);
            zhashx_insert (self->by_name, name, peer);
        }
    }
    fclose (file);
    if (!rc && zhashx_size (self->by_key) == 0)
        rc = wob_fail (err, WOB_ERR_INVALID, "keys file %s lists no keys: nobody could "
                       "connect", path);
    return rc;
}

auth_t *
auth_new (const char *cert_path, const char *keys_path, char *err)
{
    auth_t *self = calloc (1, sizeof (auth_t));
    self->by_key = zhashx_new ();
    zhashx_set_destructor (self->by_key, s_peer_destroy);
    self->by_name = zhashx_new ();
    self->cert = zcert_load (cert_path);
    if (!self->cert || !*zcert_secret_txt (self->cert)
    ||  streq (zcert_secret_txt (self->cert), "0000000000000000000000000000000000000000")) {
        wob_fail (err, WOB_ERR_INVALID, "certificate %s: cannot load it with its secret key "
                  "(%s_secret; make one with wobctl keygen)", cert_path, cert_path);
        auth_destroy (&self);
        return NULL;
    }
    if (s_load_keys (self, keys_path, err)) {
        auth_destroy (&self);
        return NULL;
    }
    self->zap = zsock_new (ZMQ_REP);
    if (!self->zap || zsock_bind (self->zap, S_ZAP_ENDPOINT) != 0) {
        wob_fail (err, WOB_ERR_IO, "cannot bind the authentication handler (%s): %s",
                  S_ZAP_ENDPOINT, zmq_strerror (zmq_errno ()));
        auth_destroy (&self);
        return NULL;
    }
    return self;
}

void
auth_destroy (auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    auth_t *self = *self_p;
    zsock_destroy (&self->zap);
    zcert_destroy (&self->cert);
    zhashx_destroy (&self->by_name);
    zhashx_destroy (&self->by_key);
    free (self);
    *self_p = NULL;
}

void
auth_apply (auth_t *self, zsock_t *router)
{
    zsock_set_zap_domain (router, "wob");
    zsock_set_curve_server (router, 1);
    zcert_apply (self->cert, router);
}

zsock_t *
auth_zap (auth_t *self)
{
    return self->zap;
}

const char *
auth_public_key (auth_t *self)
{
    return zcert_public_txt (self->cert);
}

void
auth_handle_zap (auth_t *self)
{
    zmsg_t *request = zmsg_recv (self->zap);
    if (!request)
        return;
    //  version, request id, domain, address, identity, mechanism, credentials
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    char *identity = zmsg_popstr (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    const auth_peer_t *peer = NULL;
    char text [41] = "";
    if (mechanism && streq (mechanism, "CURVE") && key && zframe_size (key) == 32) {
        zmq_z85_encode (text, zframe_data (key), 32);
        peer = zhashx_lookup (self->by_key, text);
    }
    if (!peer)
        zsys_warning ("refused a connection from %s: %s key %s is not in the keys file",
                      address? address: "?", mechanism? mechanism: "no", *text? text: "(none)");
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, request_id? request_id: "");
    zmsg_addstr (reply, peer? "200": "400");
    zmsg_addstr (reply, peer? "OK": "unknown key");
    zmsg_addstr (reply, peer? peer->name: "");
    zmsg_addmem (reply, "", 0);                 //  no metadata
    zmsg_send (&reply, self->zap);
    zframe_destroy (&key);
    free (version); free (request_id); free (domain); free (address);
    free (identity); free (mechanism);
    zmsg_destroy (&request);
}

const auth_peer_t *
auth_peer (auth_t *self, zframe_t *frame)
{
    const char *name = frame? zframe_meta (frame, "User-Id"): NULL;
    return name? zhashx_lookup (self->by_name, name): NULL;
}

//  A command's name as the protocol spells it ("submit_begin").
static const char *
s_command (int body_case)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field (&wob__envelope__descriptor, (unsigned) body_case);
    return field? field->name: "an unknown request";
}

//  The roles that may send a command.
static int
s_roles_for (int body_case)
{
    switch (body_case) {
        case WOB__ENVELOPE__BODY_SUBMIT_BEGIN:
        case WOB__ENVELOPE__BODY_SUBMIT_CHUNK:
        case WOB__ENVELOPE__BODY_SUBMIT_COMMIT:
            return AUTH_CAMPAIGN | AUTH_ADMIN;
        case WOB__ENVELOPE__BODY_WAVE_CONTROL:
        case WOB__ENVELOPE__BODY_OUTCOME_IMPORT:
            return AUTH_CAMPAIGN | AUTH_ADMIN;     //  campaign: own waves (control.c, reports.c)
        case WOB__ENVELOPE__BODY_REPORT_QUERY:
            return AUTH_CAMPAIGN | AUTH_SUPERVISOR | AUTH_ADMIN;
        case WOB__ENVELOPE__BODY_STATUS_QUERY:
            return AUTH_CAMPAIGN | AUTH_WORKER | AUTH_SUPERVISOR | AUTH_ADMIN;
        case WOB__ENVELOPE__BODY_WORKERS_QUERY:
        case WOB__ENVELOPE__BODY_SUPPRESS_LIST:
            return AUTH_SUPERVISOR | AUTH_ADMIN;
        case WOB__ENVELOPE__BODY_RULES_REQUEST:     //  reload: admin (below)
            return AUTH_SUPERVISOR | AUTH_ADMIN;
        case WOB__ENVELOPE__BODY_HELLO:
        case WOB__ENVELOPE__BODY_HEARTBEAT:
        case WOB__ENVELOPE__BODY_OUTCOME_REPORT:
        case WOB__ENVELOPE__BODY_EXTEND_LEASE:
        case WOB__ENVELOPE__BODY_BYE:
            return AUTH_WORKER;
        default:                                    //  suppress add / remove, clock
            return AUTH_ADMIN;
    }
}

int
auth_check (const auth_peer_t *peer, const Wob__Envelope *env, char *err)
{
    if (!peer)
        return wob_fail (err, WOB_ERR_REFUSED, "this connection has no known key");
    int roles = s_roles_for (env->body_case);
    if (env->body_case == WOB__ENVELOPE__BODY_RULES_REQUEST && env->rules_request->reload)
        roles = AUTH_ADMIN;
    if (!(peer->role & roles)) {
        char allowed [80] = "";
        for (size_t i = 0; i < sizeof (s_roles) / sizeof (s_roles [0]); i++)
            if (roles & s_roles [i].role)
                snprintf (allowed + strlen (allowed), sizeof (allowed) - strlen (allowed),
                          "%s%s", *allowed? " or ": "", s_roles [i].name);
        return wob_fail (err, WOB_ERR_REFUSED, "key '%s' has role %s, which may not send "
                         "this request (%s needs %s)", peer->name, auth_role_name (peer->role),
                         s_command (env->body_case), allowed);
    }
    if (env->body_case == WOB__ENVELOPE__BODY_HELLO && !streq (env->hello->channel, peer->channel))
        return wob_fail (err, WOB_ERR_REFUSED, "hello: key '%s' is a worker of channel %s, "
                         "not %.32s", peer->name, peer->channel, env->hello->channel);
    return 0;
}
