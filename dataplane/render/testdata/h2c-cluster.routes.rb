# nghttpx-gateway route table, read by router.rb and restore.rb. Generated; do not edit.
{
  :ports => {
    80 => {
      :tls => false,
      :listeners => [
        {
          :vhosts => [
            {
              :rules => [
                {
                  :name => "p/0",
                  :path => [:prefix, "/ws"],
                  :backends => [{:weight => 1, :cluster => "svc-default-ws-80-512c73c1"}],
                },
                {
                  :name => "p/1",
                  :path => [:prefix, ""],
                  :backends => [{:weight => 1, :cluster => "svc-default-grpc-50051-60a97693"}],
                },
              ],
            },
          ],
        },
      ],
    },
  },
  :buckets => 0,
  :shards => "",
  :resp => [],
}
