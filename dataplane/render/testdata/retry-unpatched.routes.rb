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
                  :name => "r/0",
                  :path => [:prefix, "/once"],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-80-2a50d44e"}],
                },
                {
                  :name => "r/1",
                  :path => [:prefix, "/backoff"],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-80-2a50d44e"}],
                },
                {
                  :name => "r/2",
                  :path => [:prefix, "/no-codes"],
                  :backends => [{:weight => 1, :cluster => "svc-default-web-80-2a50d44e"}],
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
