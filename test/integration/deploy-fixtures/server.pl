# A tiny HTTP app for the deployment tests: answers $APP_VERSION on every path, and
# /healthz with 200, or 503 when NEVER_READY is set (a version whose readiness never passes).
use strict;
use warnings;
use IO::Socket::INET;

my $version = $ENV{APP_VERSION} // 'v0';
my $server = IO::Socket::INET->new(LocalPort => 8080, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
  or die "cannot listen on 8080: $!";
$SIG{TERM} = sub { exit 0 };
$| = 1;
print "$version listening on 8080\n";
while (1) {
  my $client = $server->accept or next;
  my $request = <$client> // '';
  while (my $header = <$client>) { last if $header =~ /^\r?\n$/ }
  my ($path) = $request =~ m{^\S+\s+(\S+)};
  $path //= '/';
  my ($code, $body) = (200, "$version\n");
  if ($path eq '/healthz') {
    ($code, $body) = $ENV{NEVER_READY} ? (503, "not ready\n") : (200, "ok\n");
  }
  print $client "HTTP/1.1 $code X\r\nContent-Type: text/plain\r\nContent-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $client;
}
