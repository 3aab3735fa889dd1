#include "net_sock.h"

#include <errno.h>
#include <sys/socket.h>

int net_sock_reuseport(uv_handle_t *h) {
#ifdef SO_REUSEPORT
  uv_os_fd_t fd;
  int on = 1;
  int rc = uv_fileno(h, &fd);
  if (rc != 0)
    return rc;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
    return uv_translate_sys_error(errno);
  return 0;
#else
  (void)h;
  return UV_ENOTSUP;
#endif
}
