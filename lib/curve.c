/*  curve.c - CurveZMQ on the client side: wobctl, the client library and
    the worker library encrypt and authenticate to the broker when the
    environment says how:

        WOB_CURVE_SERVERKEY   the broker's public key (Z85, 40 characters,
                              as 'wobctl keygen' and the broker's log print)
        WOB_CURVE_CERT        this client's certificate file (with its
                              FILE_secret next to it), from 'wobctl keygen'

    Both or neither: with neither, the connection is plain, which only a
    broker started with --plain accepts.                                  */

#include "wob.h"

//  Loads the configuration; 0 with *cert_p NULL when there is none.
static int
s_load (zcert_t **cert_p, const char **server_p, char *err)
{
    const char *server = getenv ("WOB_CURVE_SERVERKEY");
    const char *path = getenv ("WOB_CURVE_CERT");
    *cert_p = NULL;
    *server_p = server;
    if ((!server || !*server) && (!path || !*path))
        return 0;
    if (!server || !*server || !path || !*path)
        return wob_fail (err, WOB_ERR_INVALID, "CurveZMQ: set both WOB_CURVE_SERVERKEY (the "
                         "broker's public key) and WOB_CURVE_CERT (this client's "
                         "certificate), or neither");
    uint8_t key [32];
    if (strlen (server) != 40 || !zmq_z85_decode (key, server))
        return wob_fail (err, WOB_ERR_INVALID, "CurveZMQ: WOB_CURVE_SERVERKEY '%.48s' is not "
                         "a public key (40 characters of Z85)", server);
    zcert_t *cert = zcert_load (path);
    if (!cert || streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000")) {
        zcert_destroy (&cert);
        return wob_fail (err, WOB_ERR_INVALID, "CurveZMQ: cannot load certificate %s with its "
                         "secret key (%s_secret)", path, path);
    }
    *cert_p = cert;
    return 0;
}

int
wob_curve_check (char *err)
{
    zcert_t *cert;
    const char *server;
    int rc = s_load (&cert, &server, err);
    zcert_destroy (&cert);
    return rc;
}

int
wob_curve_apply (zsock_t *sock, char *err)
{
    zcert_t *cert;
    const char *server;
    int rc = s_load (&cert, &server, err);
    if (rc || !cert)
        return rc;
    zcert_apply (cert, sock);
    zsock_set_curve_serverkey (sock, server);
    zcert_destroy (&cert);
    return 0;
}

int
wob_curve_keygen (const char *path, char *public_key, char *err)
{
    zcert_t *cert = zcert_new ();
    if (!cert)
        return wob_fail (err, WOB_ERR_NOMEM, "cannot make a key pair");
    int rc = zcert_save (cert, path);
    if (rc == 0)
        snprintf (public_key, 41, "%s", zcert_public_txt (cert));
    zcert_destroy (&cert);
    if (rc)
        return wob_fail (err, WOB_ERR_IO, "cannot write %s and %s_secret", path, path);
    return 0;
}
